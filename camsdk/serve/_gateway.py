"""`Gateway`: the owner's process, composed of library pieces and no second policy path.

One `GrantPolicy` (grants signed by the owner's key only), one audit book,
one `Camera` per adopted device. Everything a requester receives goes
through `Camera.acting_for(requester)`, so the facade decides it, records it
and masks it, exactly as for any other camsdk application; the gateway adds
the people-facing parts: requests and answers (`Sharing`), live sessions
the owner can see and stop, exports with signed manifests, retention.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .._access import Action, Principal
from .._camera import Camera
from .._errors import AccessDeniedError, CamError, ConfigurationError
from .._lifecycle import AsyncResource
from .._log import get_logger, register_secret, scrub
from .._private_file import write_private
from ..privacy import Grant
from ..privacy._keys import canonical_json
from ._audit import AuditBook, transparency_report
from ._c2pa import (
    C2paSigning,
    c2pa_available,
    embed_manifest,
    owner_certificates,
    signing_from_files,
)
from ._config import CameraEntry, SiteConfig, check_owner_login, load_login_keys
from ._export import MANIFEST_SUFFIX, cut_clip, file_sha256, sign_manifest
from ._footage import expire_footage, list_segments
from ._identity import NonceCache, TokenBook
from ._inventory import Discover, Inventory
from ._owner_login import LoginChallenges, raw_public_key
from ._requests import new_id
from ._security import LoginGuard, OwnerSessions, SlidingWindow
from ._sharing import Sharing, SharingError
from ._store import GatewayStore

__all__ = ["ExportJob", "Gateway", "LiveSession", "LiveTicket"]

log = get_logger("camsdk.serve")
_TICKET_SECONDS = 60.0


@dataclass(slots=True)
class LiveTicket:
    """A one-time pass from an authenticated API call to a browser's WebSocket."""

    principal: str
    grant_id: str
    camera: str
    expires: float


@dataclass(slots=True)
class LiveSession:
    """A viewer watching a camera (browser or RTSP), as the owner page lists it."""

    session_id: str
    principal: str
    grant_id: str
    camera: str
    kind: str
    started_at: datetime
    transcoded: bool = False
    bytes: int = 0
    items: int = 0


@dataclass(slots=True)
class ExportJob:
    """One clip handed to a requester."""

    export_id: str
    principal: str
    grant_id: str
    camera: str
    footage_from: datetime
    footage_until: datetime
    created_at: datetime
    state: str = "pending"
    error: str = ""
    sha256: str = ""
    bytes: int = 0
    footage_seconds: float = 0.0
    masked: bool = False
    #: Whether the clip carries an embedded C2PA manifest.
    c2pa: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def public(self) -> dict[str, Any]:
        """What the requester and the owner read about it."""
        return {"export_id": self.export_id, "state": self.state, "error": self.error,
                "camera": self.camera, "grant_id": self.grant_id,
                "footage_from": self.footage_from.isoformat(),
                "footage_until": self.footage_until.isoformat(),
                "created_at": self.created_at.isoformat(), "sha256": self.sha256,
                "bytes": self.bytes, "footage_seconds": round(self.footage_seconds, 3),
                "masked": self.masked, "principal": self.principal, "c2pa": self.c2pa}


class Gateway(AsyncResource):
    """The owner's gateway (see the module docstring). ``async with Gateway(config):``."""

    def __init__(self, config: SiteConfig, *, discover: Discover | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self._discover = discover
        self._clock = clock
        limits = config.limits
        self.sessions = OwnerSessions(config.owner.session_minutes)
        self.login_guard = LoginGuard(limits.login_attempts, limits.lockout_seconds)
        self.login_challenges = LoginChallenges()
        #: Challenges handed out per address per minute (each is kept until it expires).
        self.challenge_limit = SlidingWindow(30, 60.0)
        #: Keys that may log in as the owner: raw public bytes -> key.
        self.login_keys: dict[bytes, Ed25519PublicKey] = {}
        self.request_limit = SlidingWindow(limits.requests_per_hour, 3600.0)
        self.call_limit = SlidingWindow(limits.calls_per_minute, 60.0)
        self.nonces = NonceCache()
        self.tickets: dict[str, LiveTicket] = {}
        self.live: dict[str, LiveSession] = {}
        self.exports: dict[str, ExportJob] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.tls_fingerprint = ""
        #: The RTSP restream's port once it listens (0: off).
        self.rtsp_port = 0
        self._restream: Any = None
        self.started = False

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> Gateway:
        """Open the data directory, the audit log, the cameras, hubs and the restream."""
        cfg = self.config
        self.store = store = GatewayStore(cfg.storage.data_dir)
        password_env = cfg.owner.signing_key_password_env
        password = os.environ.get(password_env, "").encode() if password_env else None
        self.key = store.owner_key(cfg.owner.signing_key, password or None)
        self._load_login_keys()
        self.c2pa_signing = self._c2pa_signing()
        self.secret = store.secret()
        self.audit = AuditBook(store.audit_dir, self.key,
                               checkpoint_every=cfg.storage.checkpoint_every)
        policy = Sharing.load_policy(store, self.key)
        self.sharing = Sharing(store=store, key=self.key, audit=self.audit, policy=policy,
                               max_grant_days=cfg.limits.max_grant_days, clock=self._clock)
        self.tokens = TokenBook(store.read_json("tokens.json", {}))
        self._load_exports()
        self.inventory = Inventory(policy=policy, audit=self.audit, egress=cfg.egress,
                                   footage_dir=store.footage_dir,
                                   segment_seconds=cfg.storage.segment_seconds,
                                   discover=self._discover)
        self.audit.write({"event": "gateway.start", "cameras": len(cfg.cameras),
                          "bind": cfg.server.bind, "tls": cfg.server.tls})
        self.started = True
        for entry in cfg.cameras:
            self.inventory.add(entry, "site")
        for hub in cfg.hubs:
            await self.inventory.add_hub(hub)
        for item in store.read_json("adopted.json", []):
            self._readopt(item)
        if cfg.discovery.enabled:
            self.spawn(self.scan())
        if cfg.server.rtsp_port is not None:
            from ._rtsp import RestreamServer

            self._restream = RestreamServer(self, cfg.server.rtsp_bind or cfg.server.bind,
                                            cfg.server.rtsp_port)
            await self._restream.start()
            self.rtsp_port = self._restream.port
        self.spawn(self._housekeeping())
        return self

    def _load_login_keys(self) -> None:
        owner = self.config.owner
        keys = load_login_keys(owner)
        if owner.signing_key_login:
            keys.append(self.key.public_key())
        self.login_keys = {raw_public_key(k): k for k in keys}
        check_owner_login(owner, len(self.login_keys))

    def _c2pa_signing(self) -> C2paSigning | None:
        exports = self.config.exports
        if exports.c2pa is False:
            return None
        if not c2pa_available():
            if exports.c2pa is True:
                raise ConfigurationError("[exports] c2pa = true needs the c2pa library: "
                                         "pip install camsdk[c2pa]")
            return None
        if exports.c2pa_certs is not None and exports.c2pa_key is not None:
            env = exports.c2pa_key_password_env
            password = os.environ.get(env, "").encode() if env else b""
            return signing_from_files(exports.c2pa_certs, exports.c2pa_key, password or None)
        return owner_certificates(self.key, self.store.directory)

    async def aclose(self) -> None:
        """Stop everything; the audit log ends with a signed checkpoint."""
        if not self.started:
            return
        self.started = False
        if self._restream is not None:
            await self._restream.aclose()
            self._restream = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        await self.inventory.aclose()
        with contextlib.suppress(Exception):
            self.audit.write({"event": "gateway.stop"})
        self.audit.close()

    async def _on_enter(self) -> None:
        await self.start()

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run ``coro`` as a task the gateway cancels on close."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- inventory ----------------------------------------------------------------------------

    async def scan(self) -> int:
        """Run discovery now (the owner's button, or at start when enabled)."""
        cfg = self.config.discovery
        found = await self.inventory.scan(cfg.timeout, cfg.schemes)
        self.audit.write({"event": "discovery", "found": found})
        return found

    def adopt(self, finding_id: str, name: str, *, username: str | None = None,
              password_env: str | None = None, record: bool = False) -> None:
        """Adopt a finding under ``name``: it is connected and may be shared from now on."""
        finding = self.inventory.findings.get(finding_id)
        if finding is None:
            raise SharingError("no such finding", 404)
        try:
            entry = CameraEntry(name=name, url=finding.url, username=username,
                                password_env=password_env, record=record)
        except ValueError as exc:
            raise SharingError(scrub(str(exc))) from None
        try:
            self.inventory.add(entry, finding.source, finding.hub_camera)
        except ConfigurationError as exc:
            raise SharingError(str(exc), 409) from None
        del self.inventory.findings[finding_id]
        adopted = self.store.read_json("adopted.json", [])
        item: dict[str, Any] = {"name": name, "source": finding.source, "record": record,
                                "username": username, "password_env": password_env}
        if finding.hub_camera is not None:
            item["finding_id"] = finding_id
        else:
            item["url"] = finding.url
        adopted.append(item)
        self.store.write_json("adopted.json", adopted)
        self.audit.write({"event": "camera.adopted", "camera": name, "source": finding.source,
                          "url": finding.url})

    def _readopt(self, item: dict[str, Any]) -> None:
        try:
            if "finding_id" in item:
                finding = self.inventory.findings.pop(item["finding_id"], None)
                if finding is None:
                    return
                entry = CameraEntry(name=item["name"], url=finding.url, record=item["record"])
                self.inventory.add(entry, item["source"], finding.hub_camera)
            else:
                entry = CameraEntry(name=item["name"], url=item["url"], record=item["record"],
                                    username=item.get("username"),
                                    password_env=item.get("password_env"))
                self.inventory.add(entry, item["source"])
        except (ValueError, ConfigurationError) as exc:
            log.warning("adopted camera %s not restored: %s", item.get("name"), scrub(str(exc)))

    def camera_ids(self) -> dict[str, str]:
        """Connected cameras: name -> device id."""
        return {n: s.camera_id for n, s in self.inventory.slots.items() if s.camera_id}

    def camera_name(self, camera_id: str) -> str | None:
        """The name of the connected camera with ``camera_id``."""
        slot = self.inventory.by_camera_id(camera_id)
        return slot.name if slot is not None else None

    # -- requester views ----------------------------------------------------------------------

    def grant_for(self, principal: str, grant_id: str, camera: str) -> tuple[Grant, Camera]:
        """The requester's grant and the owner's camera it names; 403/404 otherwise."""
        grant = self.sharing.grant(grant_id)
        slot = self.inventory.slots.get(camera)
        # The same answer for "not yours" and "does not exist": ids are not an oracle.
        if grant is None or grant.principal != principal:
            raise SharingError("no such grant", 404)
        if slot is None or slot.camera is None or slot.camera_id not in grant.cameras:
            raise SharingError("the grant does not cover that camera", 403)
        return grant, slot.camera

    def issue_ticket(self, principal: str, grant_id: str, camera: str) -> str:
        """A one-time, one-minute pass for a browser's live WebSocket."""
        grant, cam = self.grant_for(principal, grant_id, camera)
        if not self.sharing.allows(principal, grant, cam.id, Action.STREAM_OPEN):
            raise SharingError("the grant does not allow live viewing now", 403)
        now = time.monotonic()
        for key in [k for k, t in self.tickets.items() if t.expires <= now]:
            del self.tickets[key]
        if len(self.tickets) > 1000:
            raise SharingError("too many pending live tickets", 429)
        ticket = secrets.token_urlsafe(32)
        self.tickets[hashlib.sha256(ticket.encode()).hexdigest()] = LiveTicket(
            principal, grant_id, camera, now + _TICKET_SECONDS)
        return ticket

    def redeem_ticket(self, ticket: str) -> LiveTicket | None:
        """The ticket's pass, once; ``None`` if unknown, used or expired."""
        if not ticket or len(ticket) > 128:
            return None
        found = self.tickets.pop(hashlib.sha256(ticket.encode()).hexdigest(), None)
        if found is None or found.expires <= time.monotonic():
            return None
        return found

    def masked(self, grant: Grant, camera: str) -> bool:
        """Whether masks apply to ``grant`` on ``camera`` (the owner's or the grant's)."""
        slot = self.inventory.slots[camera]
        return bool(slot.entry.masks or grant.masks)

    def live_session(self, principal: str, grant_id: str, camera: str, kind: str
                     ) -> LiveSession:
        """Register a viewer (the owner page lists it until `end_live`)."""
        if len(self.live) >= self.config.limits.max_live_viewers:
            raise SharingError("the gateway has reached its number of live viewers", 503)
        session = LiveSession(new_id(), principal, grant_id, camera, kind, self._clock())
        self.live[session.session_id] = session
        return session

    def end_live(self, session: LiveSession) -> None:
        """Forget a viewer that left."""
        self.live.pop(session.session_id, None)

    def rtsp_credentials(self, grant_id: str) -> tuple[str, str]:
        """The per-grant RTSP login: derived from the gateway's secret, never stored."""
        mac = hmac.new(self.secret, f"rtsp\n{grant_id}".encode(), hashlib.sha256).digest()
        password = base64.urlsafe_b64encode(mac[:18]).decode("ascii")
        register_secret(password)
        return f"g{grant_id[:15]}", password

    # -- exports ----------------------------------------------------------------------------

    def _load_exports(self) -> None:
        for item in self.store.read_json("exports.json", []):
            job = ExportJob(
                item["export_id"], item["principal"], item["grant_id"], item["camera"],
                datetime.fromisoformat(item["footage_from"]),
                datetime.fromisoformat(item["footage_until"]),
                datetime.fromisoformat(item["created_at"]), item["state"], item["error"],
                item["sha256"], item["bytes"], item["footage_seconds"], item["masked"],
                item.get("c2pa", False),
            )
            if job.state == "pending":
                job.state, job.error = "failed", "the gateway stopped while it was cut"
            self.exports[job.export_id] = job

    def _save_exports(self) -> None:
        self.store.write_json("exports.json", [j.public() for j in self.exports.values()])

    def clip_path(self, export_id: str, manifest: bool = False) -> Any:
        """The file of an export (ids are hex only, so no path can be smuggled in)."""
        if not (len(export_id) == 32 and all(c in "0123456789abcdef" for c in export_id)):
            raise SharingError("no such export", 404)
        path = self.store.exports_dir / f"{export_id}.mp4"
        return path.with_name(path.name + MANIFEST_SUFFIX) if manifest else path

    async def start_export(self, principal: str, grant_id: str, camera: str,
                     start: datetime, end: datetime) -> ExportJob:
        """Decide and record the export now; cut the clip in the background."""
        grant, cam = self.grant_for(principal, grant_id, camera)
        if end <= start:
            raise SharingError("footage_until must be after footage_from")
        if (end - start).total_seconds() > self.config.limits.max_clip_seconds:
            raise SharingError("the clip is longer than the gateway allows")
        if sum(1 for j in self.exports.values()
               if j.principal == principal and j.state == "pending") >= 2:
            raise SharingError("two exports are being cut already; wait for them", 429)
        view = cam.acting_for(principal)
        try:
            masked = self.masked(grant, camera)
            # Both ends of the window are decided (and recorded) by the facade's gate:
            # the policy checks each against the grant's footage window.
            decision = view._gate.authorize(view._ref, Action.RECORD, grant.purpose,
                                            raw=not masked, at=start)
            view._gate.authorize(view._ref, Action.RECORD, grant.purpose, raw=not masked,
                                 at=end - timedelta(microseconds=1))
            mask_set = view._gate.mask_set(decision)
        except AccessDeniedError as exc:
            raise SharingError(f"export denied: {exc.reason or exc}", 403) from None
        finally:
            await view.aclose()
        job = ExportJob(new_id(), principal, decision.grant_id or grant_id, camera, start, end,
                        self._clock(), masked=mask_set is not None)
        self.exports[job.export_id] = job
        self._save_exports()
        job.task = self.spawn(self._cut(job, grant, cam.id, mask_set))
        return job

    async def _cut(self, job: ExportJob, grant: Grant, camera_id: str, mask_set: Any) -> None:
        clip = self.clip_path(job.export_id)
        segments = list_segments(self.inventory.footage_dir(job.camera))
        try:
            result = await asyncio.to_thread(cut_clip, segments, job.footage_from,
                                             job.footage_until, clip, mask_set)
            window = {"from": job.footage_from.isoformat(),
                      "until": job.footage_until.isoformat()}
            extra: dict[str, Any] = {}
            signing = self.c2pa_signing
            if signing is not None:
                # Embedded first: the camsdk manifest's SHA-256 covers the clip as handed out.
                await asyncio.to_thread(embed_manifest, clip, {
                    "export_id": job.export_id, "grant_id": job.grant_id,
                    "requester": job.principal, "camera": job.camera, "camera_id": camera_id,
                    "window": window, "purpose": grant.purpose,
                    "footage": {"first": result.first.isoformat(),
                                "last": result.last.isoformat()},
                }, signing, masked=result.masked)
                extra["c2pa"] = {"embedded": True, "trust_anchor": signing.trust_anchor}
                job.c2pa = True
            digest = await asyncio.to_thread(file_sha256, clip)
            size = clip.stat().st_size
            manifest = sign_manifest({**extra,
                "export_id": job.export_id, "file": clip.name, "camera": job.camera,
                "camera_id": camera_id, "grant_id": job.grant_id, "requester": job.principal,
                "purpose": grant.purpose, "window": window,
                "footage": {"first": result.first.isoformat(), "last": result.last.isoformat(),
                            "frames": result.frames, "masked": result.masked,
                            "audio": result.audio},
                "sha256": digest, "bytes": size, "created_at": self._clock().isoformat(),
            }, self.key)
            write_private(self.clip_path(job.export_id, manifest=True),
                          canonical_json(manifest) + b"\n")
            job.state, job.sha256, job.bytes = "ready", digest, size
            job.footage_seconds = result.seconds
            self.audit.write({"event": "export.created", "export_id": job.export_id,
                              "principal": job.principal, "grant_id": job.grant_id,
                              "camera": job.camera, "purpose": grant.purpose,
                              "footage_from": job.footage_from.isoformat(),
                              "footage_until": job.footage_until.isoformat(),
                              "footage_seconds": round(result.seconds, 3),
                              "masked": result.masked, "sha256": digest, "bytes": size})
        except (CamError, OSError, ValueError) as exc:
            job.state, job.error = "failed", scrub(str(exc))
            self.audit.write({"event": "export.failed", "export_id": job.export_id,
                              "principal": job.principal, "error": job.error})
        finally:
            job.task = None
            self._save_exports()

    def delete_export(self, export_id: str, *, reason: str) -> bool:
        """Delete an export's files; the deletion is an audit record."""
        job = self.exports.pop(export_id, None)
        if job is None:
            return False
        for path in (self.clip_path(export_id), self.clip_path(export_id, manifest=True)):
            path.unlink(missing_ok=True)
        self.audit.write({"event": "export.deleted", "export_id": export_id,
                          "principal": job.principal, "reason": reason})
        self._save_exports()
        return True

    # -- retention and reports --------------------------------------------------------------

    async def _housekeeping(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                self.apply_retention()
            await asyncio.sleep(3600.0)

    def apply_retention(self) -> dict[str, int]:
        """Delete what outlived its retention (each deletion recorded); counts."""
        keep = self.config.retention
        now = self._clock()
        footage = 0
        for name in self.inventory.slots:
            for segment in expire_footage(self.inventory.footage_dir(name),
                                          now - timedelta(days=keep.footage_days)):
                footage += 1
                self.audit.write({"event": "footage.deleted", "camera": name,
                                  "from": segment.start.isoformat(),
                                  "until": segment.end.isoformat(),
                                  "reason": f"retention {keep.footage_days:g} days"})
        old = [j.export_id for j in self.exports.values()
               if j.created_at < now - timedelta(days=keep.exports_days) and j.task is None]
        for export_id in old:
            self.delete_export(export_id, reason=f"retention {keep.exports_days:g} days")
        expired = self.sharing.expire_pending(timedelta(days=keep.pending_days))
        audits = self.audit.expire(keep.audit_days)
        return {"footage": footage, "exports": len(old), "requests": expired,
                "audit_logs": len(audits)}

    def report(self, since: datetime | None = None) -> Any:
        """The transparency report, counted from the audit logs."""
        return transparency_report(self.audit.records(), since=since)

    def principal(self, principal_id: str) -> Principal:
        """A requester's `Principal` (display name from their latest request)."""
        name = next((r.body.requester_name for r in reversed(self.sharing.requests.values())
                     if r.principal == principal_id), "")
        return Principal(principal_id, name)
