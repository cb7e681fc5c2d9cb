"""`TokenAuth` expiry hook: a token about to end is renewed before the request, not after a 401."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from camsdk.driver import AuthenticationError, CameraUnreachableError, TokenAuth
from camsdk.testing import HttpDevice, Request, Response

from ._helpers import client_for

pytestmark = pytest.mark.anyio


class TokenIssuer:
    """A cloud's token endpoint: hands out numbered tokens, each living ``lifetime`` s."""

    def __init__(self, lifetime: float = 3600.0) -> None:
        self.lifetime = lifetime
        self.issued = 0
        self.left: dict[str, float] = {}
        self.fail: Exception | None = None

    async def refresh(self) -> str:
        await asyncio.sleep(0.01)  # a round trip: concurrent callers overlap
        if self.fail is not None:
            raise self.fail
        self.issued += 1
        token = f"tok-{self.issued:04d}-6c2f"
        self.left[token] = self.lifetime
        return token

    def expires_in(self, token: str) -> float | None:
        return self.left.get(token)


def _api(valid: set[str], refused: list[str]) -> object:
    async def handle(request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in valid:
            refused.append(token)
            return Response(401)
        return Response(200, b"{}")

    return handle


async def _serve(valid: set[str], auth: TokenAuth, count: int = 1) -> tuple[list[str], list[int]]:
    refused: list[str] = []
    async with HttpDevice() as device, client_for(device, auth=auth) as client:
        device.route("GET", "/v1/devices", _api(valid, refused))  # type: ignore[arg-type]
        with anyio.fail_after(10):
            answers = await asyncio.gather(
                *(client.get("/v1/devices", check=False) for _ in range(count)))
    return refused, [a.status for a in answers]


async def test_a_token_about_to_expire_is_renewed_before_the_request() -> None:
    issuer = TokenIssuer()
    issuer.left["tok-old"] = 10.0  # inside the 30 s margin
    auth = TokenAuth("tok-old", refresh=issuer.refresh, expires_in=issuer.expires_in)
    refused, statuses = await _serve({"tok-0001-6c2f"}, auth)
    assert statuses == [200] and refused == []  # the device never saw the dying token
    assert issuer.issued == 1 and auth.early_refreshes == 1


async def test_a_token_far_from_its_expiry_is_kept() -> None:
    issuer = TokenIssuer()
    issuer.left["tok-old"] = 600.0
    auth = TokenAuth("tok-old", refresh=issuer.refresh, expires_in=issuer.expires_in)
    _, statuses = await _serve({"tok-old"}, auth)
    assert statuses == [200] and issuer.issued == 0


async def test_a_token_of_unknown_lifetime_is_renewed_only_after_a_refusal() -> None:
    issuer = TokenIssuer()
    auth = TokenAuth("tok-old", refresh=issuer.refresh, expires_in=issuer.expires_in)
    refused, statuses = await _serve({"tok-0001-6c2f"}, auth)
    assert statuses == [200] and refused == ["tok-old"]
    assert auth.early_refreshes == 0


async def test_concurrent_requests_share_one_early_renewal() -> None:
    issuer = TokenIssuer()
    issuer.left["tok-old"] = 1.0
    auth = TokenAuth("tok-old", refresh=issuer.refresh, expires_in=issuer.expires_in)
    refused, statuses = await _serve({"tok-0001-6c2f"}, auth, count=6)
    assert statuses == [200] * 6 and refused == [] and issuer.issued == 1


async def test_a_failed_early_renewal_still_uses_a_token_that_lives() -> None:
    issuer = TokenIssuer()
    issuer.left["tok-old"] = 5.0
    issuer.fail = CameraUnreachableError("token endpoint down")
    auth = TokenAuth("tok-old", refresh=issuer.refresh, expires_in=issuer.expires_in)
    _, statuses = await _serve({"tok-old"}, auth)
    assert statuses == [200]


async def test_a_failed_renewal_of_an_expired_token_is_the_requests_error() -> None:
    issuer = TokenIssuer()
    issuer.left["tok-old"] = 0.0
    issuer.fail = AuthenticationError("the account's refresh token was revoked")
    auth = TokenAuth("tok-old", refresh=issuer.refresh, expires_in=issuer.expires_in)
    with pytest.raises(AuthenticationError, match="revoked"):
        await _serve({"tok-old"}, auth)


def test_an_expiry_hook_without_a_refresh_hook_is_refused() -> None:
    with pytest.raises(ValueError, match="refresh"):
        TokenAuth("tok", expires_in=lambda token: 10.0)
