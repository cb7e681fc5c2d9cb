"""A conformance suite every camera driver can run, built-in or third-party.

Subclass `CameraConformance` in a test module and provide a ``camera_url``
fixture (and, if needed, ``camera_options`` with keyword arguments for
`camsdk.open`). Each test checks one promise of the driver contract through
the public facade, skipping what the camera does not declare::

    import pytest
    from camsdk.testing.conformance import CameraConformance

    class TestMyDriver(CameraConformance):
        @pytest.fixture
        def camera_url(self, my_simulator):
            return my_simulator.url

Optional fixture hooks unlock more of the suite (a test whose hook is not
given is skipped, saying which hook it needs):

- ``unreachable_url``: a URL of the same scheme where nothing answers (a
  closed port on 127.0.0.1): connecting must fail with a typed error within
  the connect deadline;
- ``bad_credentials``: `camsdk.open` keyword arguments with a wrong
  password: `AuthenticationError`, at once, with the password nowhere;
- ``break_stream``: an async callable that makes the device drop the
  stream's connection once: the stream comes back after a `Discontinuity`,
  with timestamps that keep increasing;
- ``trigger_event``: an async callable that makes the device send one event
  (a motion start, say): it arrives normalised.

Hubs (NVRs, accounts) subclass `HubConformance` instead and provide a
``hub_url`` fixture (and ``hub_options``: `camsdk.hub` keywords). The whole
suite then runs on a camera the hub hands out through `camsdk.Hub.cameras`,
the public way, while the hub holds its session (the first online camera of
the listing, or the one whose URL ``camera_url`` returns); a few tests check
the hub's own promises: its cameras come unconnected and share its access
gate, closing the hub closes them, wrong credentials fail the hub at once::

    class TestMyNvr(HubConformance):
        @pytest.fixture
        def hub_url(self, my_nvr):
            return my_nvr.url

        @pytest.fixture
        def hub_options(self):
            return {"credentials": camsdk.Credentials("admin", "pw")}

Drivers whose cameras have a privacy mode mix `PrivacyModeConformance` into
the same class: its section checks switching both ways, streams and
snapshots refused with `PrivacyModeError`, the owner-only and audited switch,
and (with a ``switch_on_device`` fixture: an async callable taking a bool
that switches the mode behind camsdk's back) a typed refusal when the device
was switched by its app::

    class TestMyDriver(CameraConformance, PrivacyModeConformance):
        @pytest.fixture
        def switch_on_device(self, my_simulator):
            async def switch(on):
                my_simulator.set_privacy(on)
            return switch

Tests are async (anyio on asyncio) and bound every wait with a timeout.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from itertools import pairwise
from typing import Any

import anyio
import pytest

import camsdk
from camsdk import Capability, Discontinuity, MediaPacket, VideoFrame
from camsdk.testing._privacy_conformance import PrivacyModeConformance, Switch

__all__ = ["CameraConformance", "CameraOpener", "Hook", "HubConformance",
           "PrivacyModeConformance", "Switch"]

_WAIT = 20.0
# Slack on a deadline: scheduling on a loaded 2-core machine, never a hang.
_SLACK = 3.0

Hook = Callable[[], Awaitable[None]]
#: Makes the camera under test (not yet connected) with extra `camsdk.open` keywords.
CameraOpener = Callable[[dict[str, Any]], Awaitable[camsdk.Camera]]


def _scheme(url: str) -> str:
    from camsdk.driver import CameraURL

    return CameraURL.parse(url).scheme


def _secrets(url: str, options: dict[str, Any]) -> list[str]:
    creds = options.get("credentials")
    found = [creds.password.get_secret_value()] if creds is not None else []
    from camsdk.driver import CameraURL

    password = CameraURL.parse(url).password
    if password:
        found.append(password)
    return [s for s in found if len(s) >= 3]


class CameraConformance:
    """Contract tests; subclasses provide the ``camera_url`` fixture."""

    pytestmark = pytest.mark.anyio

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        """Extra keyword arguments for `camsdk.open` (credentials, config ...)."""
        return {}

    @pytest.fixture
    def unreachable_url(self) -> str | None:
        """A URL of the driver's scheme where nothing answers (override to enable)."""
        return None

    @pytest.fixture
    def bad_credentials(self) -> dict[str, Any] | None:
        """`camsdk.open` keyword arguments with a wrong password (override to enable)."""
        return None

    @pytest.fixture
    def break_stream(self) -> Hook | None:
        """Make the device drop the stream once (override to enable)."""
        return None

    @pytest.fixture
    def trigger_event(self) -> Hook | None:
        """Make the device send one event (override to enable)."""
        return None

    @pytest.fixture
    def audit_sink(self) -> Any:
        """Where the camera under test writes its audit records (a fresh memory sink)."""
        from camsdk.privacy import MemoryAuditSink

        return MemoryAuditSink()

    @pytest.fixture
    def open_camera(self, camera_url: str, audit_sink: Any) -> CameraOpener:
        """How a test gets the camera under test: `camsdk.open` (`HubConformance`: the hub)."""

        async def opener(options: dict[str, Any]) -> camsdk.Camera:
            return camsdk.open(camera_url, **{"audit": audit_sink, **options})

        return opener

    def _open(self, url: str, options: dict[str, Any]) -> camsdk.Camera:
        return camsdk.open(url, **options)

    async def test_connect_reports_identity_and_honest_capabilities(
        self, open_camera: CameraOpener, camera_options: dict[str, Any]
    ) -> None:
        cam = await open_camera(camera_options)
        declared = camsdk.available_drivers()[cam.scheme].capabilities
        with anyio.fail_after(_WAIT):
            async with cam:
                assert cam.info.id
                assert cam.capabilities in declared, "capabilities beyond the declared ones"

    async def test_open_does_no_io_and_close_is_final(
        self, open_camera: CameraOpener, camera_options: dict[str, Any]
    ) -> None:
        cam = await open_camera(camera_options)
        assert cam.state is camsdk.CameraState.NEW
        with anyio.fail_after(_WAIT):
            async with cam:
                pass
        with pytest.raises(camsdk.CameraClosedError):
            await cam.connect()

    async def test_repr_and_url_never_show_a_password(
        self, camera_url: str, camera_options: dict[str, Any], open_camera: CameraOpener
    ) -> None:
        cam = await open_camera(camera_options)
        secrets = _secrets(camera_url, camera_options)
        for text in (repr(cam), cam.url):
            for secret in secrets:
                assert secret not in text
        await cam.aclose()

    async def test_a_session_leaves_no_secret_in_logs_errors_or_audit(
        self,
        camera_url: str,
        camera_options: dict[str, Any],
        caplog: pytest.LogCaptureFixture,
        open_camera: CameraOpener,
        audit_sink: Any,
    ) -> None:
        secrets = _secrets(camera_url, camera_options)
        if not secrets:
            pytest.skip("the camera is opened without a password")
        audit = audit_sink
        texts: list[str] = []
        caplog.set_level(logging.DEBUG, logger="camsdk")
        with anyio.fail_after(_WAIT):
            async with await open_camera(camera_options) as cam:
                texts += [repr(cam), cam.url, repr(cam.info), str(cam.capabilities)]
                try:
                    if cam.supports(Capability.SNAPSHOT):
                        await cam.snapshot()
                    await cam.snapshot(profile="no-such-profile")
                except camsdk.CamError as exc:
                    texts += [str(exc), repr(exc), repr(exc.__cause__), repr(exc.__context__)]
        texts += [record.getMessage() for record in caplog.records]
        texts += [repr(record) for record in audit.records]
        leaked = [t for t in texts for secret in secrets if secret in t]
        assert leaked == []

    async def test_an_unreachable_device_fails_typed_within_its_deadline(
        self, unreachable_url: str | None, camera_options: dict[str, Any]
    ) -> None:
        if unreachable_url is None:
            pytest.skip("provide the unreachable_url fixture")
        options = {**camera_options, "config": {"connect_timeout": 1.0, "request_timeout": 1.0}}
        started = time.monotonic()
        with anyio.fail_after(_WAIT):
            with pytest.raises(camsdk.CameraConnectionError) as info:
                await self._open(unreachable_url, options).connect()
        assert time.monotonic() - started < 1.0 + _SLACK
        assert isinstance(info.value, camsdk.CameraUnreachableError | camsdk.CameraTimeoutError)
        assert info.value.scheme == _scheme(unreachable_url)

    async def test_wrong_credentials_are_an_authentication_error_with_no_retry(
        self, camera_url: str, bad_credentials: dict[str, Any] | None
    ) -> None:
        if bad_credentials is None:
            pytest.skip("provide the bad_credentials fixture")
        secrets = _secrets(camera_url, bad_credentials)
        with anyio.fail_after(_WAIT):
            cam = self._open(camera_url, bad_credentials)
            try:
                await cam.connect()
                # Drivers that check credentials only when media is asked for.
                if cam.supports(Capability.STREAM):
                    async with cam.stream():
                        pass
                elif cam.supports(Capability.SNAPSHOT):
                    await cam.snapshot()
            except camsdk.AuthenticationError as exc:
                error: camsdk.AuthenticationError = exc
            else:
                pytest.fail("wrong credentials were accepted")
            finally:
                await cam.aclose()
        for text in (str(error), repr(error)):
            assert not [s for s in secrets if s in text]

    async def test_the_stream_comes_back_after_a_drop_with_a_discontinuity(
        self,
        camera_options: dict[str, Any],
        break_stream: Hook | None,
        open_camera: CameraOpener,
    ) -> None:
        if break_stream is None:
            pytest.skip("provide the break_stream fixture")
        config = {"backoff_base": 0.05, "backoff_cap": 0.2, "stall_timeout": 2.0,
                  **camera_options.get("config", {})}
        options = {**camera_options, "config": config}
        async with await open_camera(options) as cam:
            if not cam.supports(Capability.STREAM):
                pytest.skip("camera has no stream")
            with anyio.fail_after(_WAIT * 2):
                async with cam.stream() as stream, stream.packets(audio=False) as it:
                    before: list[MediaPacket] = []
                    after: list[MediaPacket] = []
                    marker: Discontinuity | None = None
                    async for item in it:
                        if isinstance(item, Discontinuity):
                            if before and item.reason == "reconnect":
                                marker = item
                            continue
                        (after if marker is not None else before).append(item)
                        if len(before) == 5 and marker is None:
                            await break_stream()
                        if len(after) >= 3:
                            break
        assert marker is not None
        assert after[0].keyframe
        assert after[0].dts is not None and before[-1].dts is not None
        assert after[0].dts > before[-1].dts

    async def test_a_device_event_arrives_normalised(
        self,
        camera_url: str,
        camera_options: dict[str, Any],
        trigger_event: Hook | None,
        open_camera: CameraOpener,
    ) -> None:
        declared = camsdk.available_drivers()[_scheme(camera_url)].capabilities
        if Capability.EVENTS not in declared:
            pytest.skip("the driver declares no events")
        if trigger_event is None:
            pytest.skip("provide the trigger_event fixture")
        async with await open_camera(camera_options) as cam:
            if not cam.supports(Capability.EVENTS):
                pytest.skip("camera has no events")
            device_kinds = set(camsdk.EventKind) - {
                camsdk.EventKind.CONNECTION, camsdk.EventKind.STREAM_STATE
            }
            with anyio.fail_after(_WAIT):
                async with cam.events(kinds=device_kinds) as events:
                    await trigger_event()
                    event = await anext(aiter(events))
            assert event.kind in device_kinds
            assert event.camera_id == cam.id
            assert event.event_id
            assert event.started_at.tzinfo is not None
            assert event.received_at.tzinfo is not None
            assert event.score is None or 0.0 <= event.score <= 1.0

    async def test_snapshot_is_a_decodable_jpeg(
        self, open_camera: CameraOpener, camera_options: dict[str, Any]
    ) -> None:
        import av

        async with await open_camera(camera_options) as cam:
            if not cam.supports(Capability.SNAPSHOT):
                pytest.skip("camera has no snapshot")
            with anyio.fail_after(_WAIT):
                snap = await cam.snapshot()
        assert snap.jpeg[:2] == b"\xff\xd8"
        assert snap.source in ("device", "stream")
        with av.open(io.BytesIO(snap.jpeg), "r") as container:
            frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (snap.width, snap.height)

    async def test_stream_starts_on_a_keyframe_with_increasing_timestamps(
        self, open_camera: CameraOpener, camera_options: dict[str, Any]
    ) -> None:
        async with await open_camera(camera_options) as cam:
            if not cam.supports(Capability.STREAM):
                pytest.skip("camera has no stream")
            packets: list[MediaPacket] = []
            with anyio.fail_after(_WAIT):
                async with cam.stream() as stream, stream.packets(audio=False) as it:
                    assert stream.info.width > 0 and stream.info.height > 0
                    async for item in it:
                        if isinstance(item, MediaPacket):
                            packets.append(item)
                        if len(packets) >= 10:
                            break
        assert packets[0].keyframe
        dts = [p.dts for p in packets]
        assert all(b is not None and a is not None and b > a for a, b in pairwise(dts))

    async def test_frames_decode_at_the_stream_size(
        self, open_camera: CameraOpener, camera_options: dict[str, Any]
    ) -> None:
        async with await open_camera(camera_options) as cam:
            if not cam.supports(Capability.STREAM):
                pytest.skip("camera has no stream")
            with anyio.fail_after(_WAIT):
                async with cam.stream() as stream, stream.frames(format="rgb24") as frames:
                    async for frame in frames:
                        if isinstance(frame, Discontinuity):
                            continue
                        assert isinstance(frame, VideoFrame)
                        array = frame.to_ndarray()
                        assert array.shape == (stream.info.height, stream.info.width, 3)
                        break

    async def test_missing_capabilities_raise_unsupported(
        self, open_camera: CameraOpener, camera_options: dict[str, Any]
    ) -> None:
        async with await open_camera(camera_options) as cam:
            if cam.supports(Capability.PTZ):
                with anyio.fail_after(_WAIT):
                    status = await cam.ptz.status()
                assert -1.0 <= status.pan <= 1.0
            else:
                with pytest.raises(camsdk.UnsupportedCapabilityError):
                    cam.ptz  # noqa: B018
            if not cam.capabilities & (Capability.EVENTS | Capability.STREAM):
                with pytest.raises(camsdk.UnsupportedCapabilityError):
                    cam.events()

    async def test_event_subscription_opens_and_closes_cleanly(
        self, open_camera: CameraOpener, camera_options: dict[str, Any]
    ) -> None:
        async with await open_camera(camera_options) as cam:
            if not cam.capabilities & (Capability.EVENTS | Capability.STREAM):
                pytest.skip("camera has neither events nor a stream")
            with anyio.fail_after(_WAIT):
                async with cam.events():
                    pass


def _config_for(base: Any, overrides: Any) -> Any:
    """A `CameraConfig`: ``overrides`` (a dict or a config) over the hub's ``base``."""
    from camsdk import CameraConfig

    def as_dict(value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if isinstance(value, CameraConfig):
            return value.model_dump(exclude_unset=True)
        return dict(value)

    merged = {**as_dict(base), **as_dict(overrides)}
    return CameraConfig.model_validate(merged) if merged else None


class HubConformance(CameraConformance):
    """The contract tests on a camera a hub hands out, and the hub's own promises.

    Subclasses provide ``hub_url`` (and ``hub_options``). ``camera_url`` is
    the first online camera of the listing unless overridden; the camera
    under test always comes from `camsdk.Hub.cameras`, with the hub open.
    """

    @pytest.fixture
    def hub_options(self) -> dict[str, Any]:
        """Keyword arguments for `camsdk.hub` (credentials, config ...)."""
        return {}

    @pytest.fixture
    def camera_options(self, hub_options: dict[str, Any]) -> dict[str, Any]:
        """The hub's keywords: what the camera under test was opened with."""
        return hub_options

    @pytest.fixture
    async def hub(
        self, hub_url: str, hub_options: dict[str, Any], audit_sink: Any
    ) -> AsyncIterator[camsdk.Hub]:
        """The open hub the camera under test comes from."""
        hub = camsdk.hub(hub_url, **{"audit": audit_sink, **hub_options})
        try:
            with anyio.fail_after(_WAIT):
                await hub.connect()
            yield hub
        finally:
            await hub.aclose()

    @pytest.fixture
    async def camera_url(self, hub: camsdk.Hub) -> str:
        """The first online camera the hub lists (override to choose another)."""
        with anyio.fail_after(_WAIT):
            listing = await hub.listing()
        online = [item.url for item in listing if item.online]
        if not online:
            pytest.fail("the hub lists no online camera")
        return online[0]

    @pytest.fixture
    def open_camera(
        self, hub: camsdk.Hub, camera_url: str, hub_options: dict[str, Any]
    ) -> CameraOpener:
        """The camera under test from ``hub.cameras()`` (``config`` applies; the rest is the
        hub's: credentials, audit, policy)."""
        from camsdk.driver import CameraURL

        wanted = CameraURL.parse(camera_url).redacted()

        async def opener(options: dict[str, Any]) -> camsdk.Camera:
            config = _config_for(hub_options.get("config"), options.get("config"))
            with anyio.fail_after(_WAIT):
                cameras = await hub.cameras(config=config)
            for cam in cameras:
                if CameraURL.parse(cam.url).redacted() == wanted:
                    return cam
            pytest.fail(f"hub.cameras() did not hand out {wanted}")

        return opener

    async def test_wrong_credentials_are_an_authentication_error_with_no_retry(
        self, hub_url: str, bad_credentials: dict[str, Any] | None
    ) -> None:
        # For a hub: the hub itself refuses to connect, and says so at once.
        if bad_credentials is None:
            pytest.skip("provide the bad_credentials fixture")
        secrets = _secrets(hub_url, bad_credentials)
        hub = camsdk.hub(hub_url, **bad_credentials)
        with anyio.fail_after(_WAIT), pytest.raises(camsdk.AuthenticationError) as info:
            try:
                await hub.connect()
                await hub.listing()
            finally:
                await hub.aclose()
        for text in (str(info.value), repr(info.value), repr(hub)):
            assert not [s for s in secrets if s in text]

    async def test_the_hub_hands_out_its_online_cameras_unconnected(
        self, hub: camsdk.Hub, hub_url: str, hub_options: dict[str, Any]
    ) -> None:
        from camsdk.driver import CameraURL

        with anyio.fail_after(_WAIT):
            listing = await hub.listing()
            cameras = await hub.cameras()
        online = {CameraURL.parse(item.url).redacted() for item in listing if item.online}
        assert {CameraURL.parse(cam.url).redacted() for cam in cameras} == online
        assert all(cam.state is camsdk.CameraState.NEW for cam in cameras)
        secrets = _secrets(hub_url, hub_options)
        texts = [repr(hub), hub.url, *(repr(cam) for cam in cameras)]
        assert not [t for t in texts for secret in secrets if secret in t]

    async def test_a_hub_camera_is_audited_in_the_hubs_log(
        self, open_camera: CameraOpener, audit_sink: Any
    ) -> None:
        async with await open_camera({}) as cam:
            if not cam.capabilities & (Capability.SNAPSHOT | Capability.STREAM):
                pytest.skip("camera has neither snapshots nor a stream")
            with anyio.fail_after(_WAIT):
                await cam.snapshot()
        assert any(record.get("camera_id") == cam.id for record in audit_sink.records)

    async def test_closing_the_hub_closes_the_cameras_it_handed_out(
        self, hub_url: str, hub_options: dict[str, Any]
    ) -> None:
        hub = camsdk.hub(hub_url, **hub_options)
        try:
            with anyio.fail_after(_WAIT):
                await hub.connect()
                cameras = await hub.cameras()
                await cameras[0].connect()
        finally:
            await hub.aclose()
        assert all(cam.state is camsdk.CameraState.CLOSED for cam in cameras)
        with pytest.raises(camsdk.CameraClosedError):
            await hub.connect()
