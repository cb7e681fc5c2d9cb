"""One Ring account per process: its tokens, API, device list, events and live views.

`RingSession` is shared (`DeviceSessions`, keyed by the token store and the
account name) by the hub and every camera of the account:

- opening claims the token lineage in the store (a second process on the
  same lineage is refused with `TokenLineageInUseError`; the first keeps
  working), loads the tokens (`ReauthRequiredError` without any: log in
  with ``camsdk login ring`` or `camsdk.cloud.login`), and registers this
  install as a client device (``POST /clients_api/session`` with the
  hardware id and the client name);
- refreshes go through `RingAccount` (`camsdk.cloud.CloudAccount`): once for
  every caller, the rotated refresh token saved before the new access token
  is used;
- the device list is fetched once for concurrent callers and reused for a
  few seconds;
- events (`_events.AccountEvents`) and live views (`_live`) are per account.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from camsdk.cloud import (
    CloudAccount,
    Coalescer,
    FileTokenStore,
    RateLimiter,
    TokenSet,
    TokenStore,
)
from camsdk.driver import (
    CameraConfig,
    CameraProtocolError,
    DeviceSessions,
    Snapshot,
    get_logger,
)

from ._api import RingApi
from ._auth import client_name, hardware_id_of, refresh_tokens
from ._devices import RingDevice, parse_devices
from ._options import RingOptions

if TYPE_CHECKING:  # pragma: no cover
    from ._events import AccountEvents
    from ._live import LiveView

__all__ = ["SESSIONS", "RingAccount", "RingSession", "acquire_session", "default_store"]

log = get_logger("camsdk.drivers.ring")

#: Recording storage Ring hands out download links on (pre-signed, no token sent).
STORAGE_HOSTS = ("*.s3.amazonaws.com", "*.ring.com", "*.cloudfront.net")
#: A device list this young is reused (a camera connecting right after its hub).
DEVICES_FRESH = 5.0

SESSIONS: DeviceSessions[RingSession] = DeviceSessions()
_STORES: dict[str, FileTokenStore] = {}


def default_store(options: RingOptions) -> TokenStore:
    """The store ``options`` name: ``token_store``, ``token_dir``, or the per-user directory."""
    if options.token_store is not None:
        store: TokenStore = options.token_store
        return store
    directory = options.token_dir or os.environ.get("CAMSDK_TOKEN_DIR") or str(
        Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "camsdk" / "tokens")
    found = _STORES.get(directory)
    if found is None:
        found = _STORES[directory] = FileTokenStore(directory)
    return found


class RingAccount(CloudAccount):
    """`CloudAccount` that can also keep per-install facts with the tokens.

    `remember` saves values into `TokenSet.extra` (the push registration)
    under the account's lock, so it never races a refresh. `camsdk.cloud`
    should offer this on `CloudAccount` itself.
    """

    async def remember(self, **values: str) -> TokenSet:
        """Store ``values`` in the tokens' ``extra`` (same generation), durably."""
        async with self._lock:
            current = self.tokens
            fresh = current.model_copy(update={"extra": {**current.extra, **values}})
            await self.store.save(fresh)
            self._tokens = fresh
            return fresh


def _store_key(store: TokenStore) -> str:
    if isinstance(store, FileTokenStore):
        return f"file:{store.directory.resolve()}"
    return f"object:{id(store)}"


class RingSession:
    """Everything one account shares in a process (see the module docstring)."""

    def __init__(self, *, account: str, options: RingOptions, config: CameraConfig,
                 store: TokenStore) -> None:
        self.name = account
        self.options = options
        self.config = config
        self.store = store
        self.shown = f"ring://{account}"
        self.account = RingAccount(
            scheme="ring", account=account, store=store, refresh=self._refresh,
            limiter=RateLimiter(rate=5.0, burst=10), reauth_hint="camsdk login ring",
        )
        self.api = RingApi(self.account, options, config, shown=self.shown,
                           extra_hosts=STORAGE_HOSTS)
        self._devices: tuple[float, list[RingDevice]] | None = None
        self._coalesce: Coalescer[list[RingDevice]] = Coalescer()
        self.snapshots: Coalescer[Any] = Coalescer()
        #: The last on-demand snapshot and event picture per device key.
        self.stills: dict[str, Snapshot] = {}
        self.event_stills: dict[str, tuple[str, Snapshot]] = {}
        self.profile: dict[str, Any] = {}
        self.events: AccountEvents | None = None
        #: Running live views, by device key (several may exist while one retires).
        self.live: dict[str, list[LiveView]] = {}
        self.live_locks: dict[str, asyncio.Lock] = {}
        self.closing: set[asyncio.Task[None]] = set()
        #: The last event picture known per device key: (snapshot uuid, UNIX time).
        self.pictures: dict[str, tuple[str, float]] = {}
        #: Logins to this session's client registration (tests count them).
        self.registrations = 0

    def __repr__(self) -> str:
        return f"<RingSession {self.shown}>"

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the session: the store and the account name."""
        return (_store_key(self.store), self.name)

    async def _refresh(self, tokens: TokenSet) -> TokenSet:
        return await refresh_tokens(tokens, options=self.options, config=self.config,
                                    shown=self.shown)

    @property
    def hardware_id(self) -> str:
        """The install's hardware id (kept with the tokens)."""
        return hardware_id_of(self.account.tokens) or ""

    async def open(self) -> RingSession:
        """Claim the lineage, load the tokens, register this client (module docstring)."""
        await self.account.open()
        try:
            if not self.hardware_id:
                import uuid

                await self.account.remember(hardware_id=str(uuid.uuid4()))
            # The option wins; else the name chosen at login; else one made from the hardware id.
            name = self.options.client_name or self.account.tokens.extra.get(
                "client_name") or client_name(self.options, self.hardware_id)
            answer = await self.api.request(
                "POST", self.api.url("api", "/clients_api/session"), action="session",
                json={"device": {"hardware_id": self.hardware_id, "os": "android",
                                 "metadata": {"api_version": 11, "device_model": name}}},
            )
            data = answer.json()
            profile = data.get("profile") if isinstance(data, dict) else None
            self.profile = dict(profile) if isinstance(profile, dict) else {}
            self.registrations += 1
        except BaseException:
            await self.aclose()
            raise
        return self

    async def aclose(self) -> None:
        """Stop events and live views, close the HTTP client, release the lineage."""
        events, self.events = self.events, None
        if events is not None:
            await events.aclose()
        for views in list(self.live.values()):
            for view in list(views):
                await view.aclose()
        self.live.clear()
        # Live views released by a cancelled caller may still be closing.
        await asyncio.gather(*self.closing, return_exceptions=True)
        try:
            await self.api.aclose()
        finally:
            await self.account.aclose()

    # -- devices ----------------------------------------------------------------------------

    async def devices(self, *, fresh: bool = False) -> list[RingDevice]:
        """The account's cameras (a list younger than a few seconds is reused)."""
        cached = self._devices
        if not fresh and cached is not None and time.monotonic() - cached[0] < DEVICES_FRESH:
            return cached[1]
        return await self._coalesce.run(("devices", fresh), self._fetch_devices)

    async def _fetch_devices(self) -> list[RingDevice]:
        data = await self.api.get_json(self.api.url("api", "/clients_api/ring_devices"),
                                       action="device list")
        if not isinstance(data, dict):
            raise CameraProtocolError("Ring's device list is not an object", scheme="ring",
                                      url=self.shown)
        found = parse_devices(data)
        self._devices = (time.monotonic(), found)
        return found

    async def device(self, key: str) -> RingDevice | None:
        """The device with ``key`` (``doorbot-123``), if the account has it."""
        for device in await self.devices():
            if device.key == key:
                return device
        return None

    # -- live views -------------------------------------------------------------------------

    def live_view_running(self, key: str) -> bool:
        """Whether a live view of the device runs now."""
        return any(not view.ended for view in self.live.get(key, ()))


async def acquire_session(account: str, options: RingOptions, config: CameraConfig
                          ) -> RingSession:
    """The shared session of ``account`` in the store ``options`` name (opened by the first)."""
    store = default_store(options)
    key = (_store_key(store), account)

    async def open_session() -> RingSession:
        return await RingSession(account=account, options=options, config=config,
                                 store=store).open()

    async def close_session(session: RingSession) -> None:
        await session.aclose()

    return await SESSIONS.acquire(key, open=open_session, close=close_session)

