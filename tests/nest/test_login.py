"""Logging in to a Nest project: OAuth authorization code with PKCE, as a state machine."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

import camsdk
from camsdk.cloud import MemoryTokenStore, login
from camsdk.testing import NestCloud

pytestmark = pytest.mark.anyio


async def start(cloud: NestCloud, store: MemoryTokenStore) -> camsdk.cloud.LoginFlow:
    return await login("nest", account=cloud.project_id, store=store,
                       credentials=cloud.credentials, **cloud.options())


async def test_the_challenge_is_the_consent_page_with_pkce_and_offline_access(
    cloud: NestCloud,
) -> None:
    async with await start(cloud, MemoryTokenStore()) as flow:
        assert flow.challenge is not None and flow.challenge.kind == "oauth"
        url = urlsplit(flow.challenge.authorization_url or "")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.path == f"/partnerconnections/{cloud.project_id}/auth"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["access_type"] == "offline" and query["prompt"] == "consent"
    assert set(query["scope"].split()) == {"https://www.googleapis.com/auth/sdm.service",
                                           "https://www.googleapis.com/auth/pubsub"}
    assert "client_secret" not in query


async def test_pasting_the_redirect_address_stores_tokens_with_the_client(
    cloud: NestCloud,
) -> None:
    store = MemoryTokenStore()
    flow = await start(cloud, store)
    assert flow.challenge is not None
    await flow.complete(cloud.consent(flow.challenge.authorization_url or ""))
    assert flow.done
    saved = await store.load("nest", cloud.project_id)
    assert saved is not None and saved.refresh_token is not None
    assert saved.extra["client_id"] == cloud.client_id
    assert saved.extra["project_id"] == cloud.project_id
    assert cloud.oauth.exchanges == 1


async def test_pasting_only_the_code_works_too(cloud: NestCloud) -> None:
    store = MemoryTokenStore()
    flow = await start(cloud, store)
    redirect = cloud.consent(flow.challenge.authorization_url or "")  # type: ignore[union-attr]
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    await flow.complete(code)
    assert flow.done


async def test_a_redirect_from_another_login_is_refused_by_its_state(cloud: NestCloud) -> None:
    first = await start(cloud, MemoryTokenStore())
    second = await start(cloud, MemoryTokenStore())
    redirect = cloud.consent(first.challenge.authorization_url or "")  # type: ignore[union-attr]
    with pytest.raises(camsdk.AuthenticationError, match="state"):
        await second.complete(redirect)
    await first.aclose()
    await second.aclose()
    assert cloud.oauth.exchanges == 0


async def test_access_refused_in_the_browser_is_an_authentication_error(
    cloud: NestCloud,
) -> None:
    flow = await start(cloud, MemoryTokenStore())
    redirect = cloud.consent(flow.challenge.authorization_url or "",  # type: ignore[union-attr]
                             allow=False)
    with pytest.raises(camsdk.AuthenticationError, match="access_denied"):
        await flow.complete(redirect)
    await flow.aclose()


async def test_a_code_used_twice_is_a_dead_grant(cloud: NestCloud) -> None:
    flow = await start(cloud, MemoryTokenStore())
    redirect = cloud.consent(flow.challenge.authorization_url or "")  # type: ignore[union-attr]
    await flow.complete(redirect)
    again = await start(cloud, MemoryTokenStore())
    state = parse_qs(urlsplit(again.challenge.authorization_url or "").query)  # type: ignore[union-attr]
    replay = redirect.replace(parse_qs(urlsplit(redirect).query)["state"][0],
                              state["state"][0])
    with pytest.raises(camsdk.ReauthRequiredError):
        await again.complete(replay)
    await again.aclose()


async def test_a_login_without_the_oauth_client_is_a_configuration_error(
    cloud: NestCloud,
) -> None:
    with pytest.raises(camsdk.ConfigurationError, match="client_id"):
        await login("nest", account=cloud.project_id, store=MemoryTokenStore(),
                    **cloud.options())


async def test_a_wrong_client_secret_is_refused_at_the_exchange(cloud: NestCloud) -> None:
    flow = await login("nest", account=cloud.project_id, store=MemoryTokenStore(),
                       credentials=camsdk.Credentials(cloud.client_id, "not-the-secret"),
                       **cloud.options())
    redirect = cloud.consent(flow.challenge.authorization_url or "")  # type: ignore[union-attr]
    with pytest.raises(camsdk.AuthenticationError, match="invalid_client") as info:
        await flow.complete(redirect)
    await flow.aclose()
    assert "not-the-secret" not in str(info.value)
