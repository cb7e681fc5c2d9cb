"""The requester API (``/api/v1/...``, described in ``/api/v1/openapi.json``).

Every call proves who makes it (`camsdk.serve._identity`: an Ed25519
signature or an owner-issued token), is rate limited per requester and per
address, and is written to the audit log with its outcome. Nothing is
reachable without an identity; media and footage are reachable only under
an active grant of that identity, and every egress is decided again by the
facade's gate for the requester (`Camera.acting_for`), so a revoked,
expired, forged or widened grant, another camera or a time outside the
footage window is refused where the media would leave.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .._access import Action
from .._errors import AccessDeniedError, CamError
from .._log import get_logger
from ._gateway import Gateway
from ._http import HttpError, client_address, error, parse, target_of
from ._identity import Identity, IdentityError, identify
from ._live import LiveFeed, fmp4_chunks, open_feed
from ._openapi import openapi_document
from ._requests import AccessRequestIn, ExportIn, LiveIn, Reply
from ._sharing import LIVE_ACTIONS, SharingError

__all__ = ["requester_routes"]

log = get_logger("camsdk.serve.api")
Handler = Callable[[Request, Identity, bytes], Awaitable[Response]]
#: WebSocket close codes: 4401 no valid ticket, 4403 access ended, 4404 no stream.
WS_DENIED, WS_ENDED, WS_FAILED = 4401, 4403, 4404


def requester_routes(gw: Gateway) -> list[BaseRoute]:
    """The requester API's routes."""
    limits = gw.config.limits

    def requester(route: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            address = client_address(request)
            identity: Identity | None = None
            status = 500
            try:
                if not gw.call_limit.allow(f"addr:{address}"):
                    raise HttpError(429, "too many calls; slow down", {"Retry-After": "60"})
                body = await _body(request, limits.max_body_bytes)
                try:
                    identity = identify(request.headers.get("authorization"), request.method,
                                        target_of(request.scope), body, tokens=gw.tokens,
                                        nonces=gw.nonces)
                except IdentityError as exc:
                    raise HttpError(401, str(exc),
                                    {"WWW-Authenticate": "Camsdk-Ed25519, Bearer"}) from None
                if not gw.call_limit.allow(identity.principal):
                    raise HttpError(429, "too many calls; slow down", {"Retry-After": "60"})
                response = await handler(request, identity, body)
                status = response.status_code
                return response
            except HttpError as exc:
                status = exc.status
                return error(exc.status, str(exc), exc.headers)
            except SharingError as exc:
                status = exc.status
                return error(exc.status, str(exc))
            finally:
                gw.audit.write({"event": "api", "route": f"{request.method} {route}",
                                "principal": identity.principal if identity else "",
                                "address": address, "status": status})

        return endpoint

    async def catalog(request: Request, who: Identity, body: bytes) -> Response:
        return JSONResponse({"cameras": sorted(gw.inventory.slots),
                             "areas": {k: list(v) for k, v in gw.config.areas.items()}})

    async def submit(request: Request, who: Identity, body: bytes) -> Response:
        address = client_address(request)
        if not (gw.request_limit.allow(who.principal)
                and gw.request_limit.allow(f"addr:{address}")):
            raise HttpError(429, "too many access requests; try again later",
                            {"Retry-After": "3600"})
        asked = parse(body, AccessRequestIn)
        if asked.area is not None:
            cameras = gw.config.areas.get(asked.area)
            if cameras is None:
                raise HttpError(422, "unknown area")
        else:
            unknown = [c for c in asked.cameras if c not in gw.inventory.slots]
            if unknown:
                raise HttpError(422, f"unknown cameras: {', '.join(unknown)}")
            cameras = asked.cameras
        made = gw.sharing.submit(who.principal, asked, tuple(cameras))
        return JSONResponse(made.public(), status_code=201)

    async def status(request: Request, who: Identity, body: bytes) -> Response:
        found = gw.sharing.requests.get(request.path_params["request_id"])
        if found is None or found.principal != who.principal:
            raise HttpError(404, "no such request")
        return JSONResponse(found.public())

    async def reply(request: Request, who: Identity, body: bytes) -> Response:
        answer = parse(body, Reply)
        updated = gw.sharing.reply(who.principal, request.path_params["request_id"], answer)
        return JSONResponse(updated.public())

    async def grants(request: Request, who: Identity, body: bytes) -> Response:
        names = {v: k for k, v in gw.camera_ids().items()}
        out = []
        for grant in gw.sharing.grants_of(who.principal):
            live = grant.actions >= LIVE_ACTIONS
            out.append({
                "grant_id": grant.grant_id, "status": gw.sharing.status(grant),
                "mode": "live" if live else "recorded", "purpose": grant.purpose,
                "cameras": [names[c] for c in sorted(grant.cameras) if c in names],
                "expires_at": grant.expires_at.isoformat(),
                "footage_from": grant.footage_from.isoformat() if grant.footage_from else None,
                "footage_until": grant.footage_until.isoformat() if grant.footage_until
                else None,
                "masked": bool(grant.masks),
            })
        return JSONResponse({"grants": out})

    async def cameras(request: Request, who: Identity, body: bytes) -> Response:
        visible: dict[str, dict[str, Any]] = {}
        for grant in gw.sharing.grants_of(who.principal):
            if gw.sharing.status(grant) != "active":
                continue
            live = grant.actions >= LIVE_ACTIONS
            for camera_id in grant.cameras:
                name = gw.camera_name(camera_id)
                if name is None:
                    continue
                entry = visible.setdefault(name, {"camera": name, "live": [], "recorded": []})
                entry["live" if live else "recorded"].append(grant.grant_id)
        return JSONResponse({"cameras": sorted(visible.values(), key=lambda e: e["camera"])})

    async def live(request: Request, who: Identity, body: bytes) -> Response:
        wanted = parse(body, LiveIn)
        ticket = gw.issue_ticket(who.principal, wanted.grant_id, wanted.camera)
        return JSONResponse({"ticket": ticket, "expires_in": 60,
                             "ws_path": f"/api/v1/live/ws?ticket={ticket}",
                             "viewer_path": f"/view#ticket={ticket}"}, status_code=201)

    async def rtsp(request: Request, who: Identity, body: bytes) -> Response:
        grant_id = request.path_params["grant_id"]
        grant = gw.sharing.grant(grant_id)
        if grant is None or grant.principal != who.principal:
            raise HttpError(404, "no such grant")
        if not grant.actions >= LIVE_ACTIONS or gw.sharing.status(grant) != "active":
            raise HttpError(403, "the grant does not allow live viewing now")
        if not gw.rtsp_port:
            raise HttpError(404, "the RTSP restream is off on this gateway")
        user, password = gw.rtsp_credentials(grant_id)
        names = [gw.camera_name(c) for c in sorted(grant.cameras)]
        host = request.url.hostname or "127.0.0.1"
        return JSONResponse({
            "username": user, "password": password,
            "urls": [f"rtsp://{host}:{gw.rtsp_port}/{grant_id}/{n}" for n in names if n],
        })

    async def export(request: Request, who: Identity, body: bytes) -> Response:
        wanted = parse(body, ExportIn)
        grant = gw.sharing.grant(wanted.grant_id)
        if grant is None or grant.principal != who.principal:
            raise HttpError(404, "no such grant")
        start = wanted.footage_from or grant.footage_from
        end = wanted.footage_until or grant.footage_until
        if start is None or end is None:
            raise HttpError(422, "give footage_from and footage_until")
        job = await gw.start_export(who.principal, wanted.grant_id, wanted.camera, start, end)
        return JSONResponse(job.public(), status_code=202)

    def own_export(who: Identity, export_id: str) -> Any:
        job = gw.exports.get(export_id)
        if job is None or job.principal != who.principal:
            raise HttpError(404, "no such export")
        return job

    async def export_status(request: Request, who: Identity, body: bytes) -> Response:
        return JSONResponse(own_export(who, request.path_params["export_id"]).public())

    async def export_file(request: Request, who: Identity, body: bytes) -> Response:
        export_id = request.path_params["export_id"]
        kind = request.path_params["kind"]
        if kind not in ("clip.mp4", "manifest.json"):
            raise HttpError(404, "no such file")
        job = own_export(who, export_id)
        if job.state != "ready":
            raise HttpError(409, f"the export is {job.state}")
        grant = gw.sharing.grant(job.grant_id)
        slot = gw.inventory.slots.get(job.camera)
        camera_id = slot.camera_id if slot is not None else None
        # Handing out the file is an egress too: it needs the grant to allow it still.
        if grant is None or camera_id is None or not gw.sharing.allows(
            who.principal, grant, camera_id, Action.RECORD, at=job.footage_from
        ):
            raise HttpError(403, "the grant no longer allows this footage")
        manifest = kind == "manifest.json"
        gw.audit.write({"event": "export.downloaded", "export_id": export_id,
                        "principal": who.principal, "file": "manifest" if manifest else "clip"})
        return FileResponse(gw.clip_path(export_id, manifest=manifest),
                            filename=f"{job.camera}-{export_id[:8]}.mp4"
                            + (".manifest.json" if manifest else ""),
                            media_type="application/json" if manifest else "video/mp4")

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def live_ws(ws: WebSocket) -> None:
        await _serve_live(gw, ws)

    return [
        Route("/api/v1/openapi.json", openapi, methods=["GET"]),
        Route("/api/v1/catalog", requester("/api/v1/catalog", catalog), methods=["GET"]),
        Route("/api/v1/requests", requester("/api/v1/requests", submit), methods=["POST"]),
        Route("/api/v1/requests/{request_id}",
              requester("/api/v1/requests/{id}", status), methods=["GET"]),
        Route("/api/v1/requests/{request_id}/reply",
              requester("/api/v1/requests/{id}/reply", reply), methods=["POST"]),
        Route("/api/v1/grants", requester("/api/v1/grants", grants), methods=["GET"]),
        Route("/api/v1/grants/{grant_id}/rtsp",
              requester("/api/v1/grants/{id}/rtsp", rtsp), methods=["GET"]),
        Route("/api/v1/cameras", requester("/api/v1/cameras", cameras), methods=["GET"]),
        Route("/api/v1/live", requester("/api/v1/live", live), methods=["POST"]),
        WebSocketRoute("/api/v1/live/ws", live_ws),
        Route("/api/v1/exports", requester("/api/v1/exports", export), methods=["POST"]),
        Route("/api/v1/exports/{export_id}",
              requester("/api/v1/exports/{id}", export_status), methods=["GET"]),
        Route("/api/v1/exports/{export_id}/{kind:str}",
              requester("/api/v1/exports/{id}/file", export_file), methods=["GET"]),
    ]


async def _body(request: Request, limit: int) -> bytes:
    from ._http import read_body

    return await read_body(request, limit)


async def _serve_live(gw: Gateway, ws: WebSocket) -> None:
    """One browser viewer: a ticket in, fragmented MP4 out, until the grant or the viewer ends."""
    ticket = gw.redeem_ticket(ws.query_params.get("ticket", ""))
    if ticket is None:
        gw.audit.write({"event": "api", "route": "WS /api/v1/live/ws", "principal": "",
                        "address": client_address(ws), "status": 401})
        await ws.close(code=WS_DENIED)
        return
    await ws.accept()
    reason, code = "the stream ended", WS_FAILED
    session = view = None
    feed: LiveFeed | None = None
    try:
        grant, cam = gw.grant_for(ticket.principal, ticket.grant_id, ticket.camera)
        session = gw.live_session(ticket.principal, ticket.grant_id, ticket.camera, "browser")
        view = cam.acting_for(gw.principal(ticket.principal))
        masked = gw.masked(grant, ticket.camera)
        feed = open_feed(view, purpose=grant.purpose, masked=masked, browser=True)
        async with feed:
            if feed.track.codec != "h264":
                # Browsers need H.264: a camera sending something else is re-encoded.
                await feed.aclose()
                feed = open_feed(view, purpose=grant.purpose, masked=True, browser=True)
                await feed.__aenter__()
            session.transcoded = feed.track.transcoded
            await ws.send_json({"type": "init", "mime": feed.track.mime,
                                "width": feed.track.width, "height": feed.track.height,
                                "transcoded": feed.track.transcoded,
                                "audio": feed.track.audio is not None})
            async for chunk in fmp4_chunks(feed):
                await ws.send_bytes(chunk)
                session.bytes += len(chunk)
                session.items += 1
    except AccessDeniedError:
        reason, code = "access ended: the grant was revoked or has expired", WS_ENDED
    except SharingError as exc:
        reason, code = str(exc), WS_ENDED
    except (WebSocketDisconnect, OSError):
        return  # the viewer left (a closed tab, a dropped connection)
    except CamError as exc:
        reason = f"the stream failed: {exc}"
    finally:
        if feed is not None:
            await feed.aclose()
        if view is not None:
            await view.aclose()
        if session is not None:
            gw.end_live(session)
    try:
        await ws.send_json({"type": "end", "reason": reason})
        await ws.close(code=code)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
