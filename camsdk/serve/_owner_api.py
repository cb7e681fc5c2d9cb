"""The owner's JSON API, behind the owner page (``/owner/api/...``).

Login (`camsdk.serve._owner_login`: the owner's password or a signed
challenge; an address that fails too often is locked out) sets an HttpOnly,
SameSite=Strict session cookie; the answer carries the session's CSRF token,
which every state-changing call must send back in ``X-CSRF-Token``. Calls
from another origin are refused. Every decision the owner makes is an audit
record (written by `Sharing` and `Gateway`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from ._gateway import Gateway
from ._http import HttpError, error, parse, read_body
from ._owner_login import COOKIE, login_routes, same_origin
from ._requests import Approval, Decline, MoreInfo
from ._security import csrf_ok
from ._sharing import SharingError

__all__ = ["COOKIE", "owner_routes"]

Handler = Callable[[Request], Awaitable[Response]]


class _Adopt(BaseModel):
    model_config = ConfigDict(extra="forbid")
    finding_id: str = Field(max_length=64)
    name: str = Field(max_length=63)
    username: str | None = Field(default=None, max_length=128)
    password_env: str | None = Field(default=None, max_length=128)
    record: bool = False


class _Token(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")


class _OwnerExport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grant_id: str = Field(max_length=128)
    camera: str = Field(max_length=63)
    footage_from: datetime | None = None
    footage_until: datetime | None = None


def owner_routes(gw: Gateway) -> list[BaseRoute]:
    """The owner API's routes."""
    def owner(handler: Handler, *, mutating: bool = True) -> Handler:
        async def endpoint(request: Request) -> Response:
            session = gw.sessions.get(request.cookies.get(COOKIE))
            if session is None:
                return error(401, "log in first")
            if mutating and not (
                same_origin(request) and csrf_ok(session, request.headers.get("x-csrf-token"))
            ):
                return error(403, "missing or wrong CSRF token (or a cross-site request)")
            try:
                return await handler(request)
            except HttpError as exc:
                return error(exc.status, str(exc), exc.headers)
            except SharingError as exc:
                return error(exc.status, str(exc))

        return endpoint

    async def overview(request: Request) -> Response:
        return JSONResponse(_overview(gw))

    async def snapshot(request: Request) -> Response:
        jpeg = await gw.inventory.thumbnail(request.path_params["name"])
        if jpeg is None:
            return error(404, "no picture: unknown or offline camera")
        return Response(jpeg, media_type="image/jpeg")

    async def scan(request: Request) -> Response:
        found = await gw.scan()
        return JSONResponse({"found": found})

    async def adopt(request: Request) -> Response:
        body = parse(await read_body(request, 4096), _Adopt)
        gw.adopt(body.finding_id, body.name, username=body.username,
                 password_env=body.password_env, record=body.record)
        return JSONResponse({"ok": True}, status_code=201)

    async def approve(request: Request) -> Response:
        body = parse(await read_body(request, 256 * 1024), Approval)
        grants = gw.sharing.approve(request.path_params["request_id"], body, gw.camera_ids())
        return JSONResponse({"grant_ids": [g.grant_id for g in grants]})

    async def deny(request: Request) -> Response:
        body = parse(await read_body(request, 8192), Decline)
        gw.sharing.deny(request.path_params["request_id"], body)
        return JSONResponse({"ok": True})

    async def ask(request: Request) -> Response:
        body = parse(await read_body(request, 8192), MoreInfo)
        gw.sharing.ask(request.path_params["request_id"], body)
        return JSONResponse({"ok": True})

    async def revoke(request: Request) -> Response:
        newly = gw.sharing.revoke(request.path_params["grant_id"])
        return JSONResponse({"revoked": True, "newly": newly})

    async def audit(request: Request) -> Response:
        checks = await asyncio.to_thread(gw.audit.verify)
        tail = await asyncio.to_thread(gw.audit.tail, 200)
        return JSONResponse({
            "ok": all(c.ok for c in checks),
            "key_id": _key_id(gw),
            "logs": [_check(c) for c in checks],
            "records": tail[::-1],
        })

    async def report_json(request: Request) -> Response:
        report = await asyncio.to_thread(gw.report)
        return JSONResponse(report.as_dict(), headers={
            "Content-Disposition": 'attachment; filename="transparency-report.json"'
            if request.query_params.get("download") else "inline"})

    async def report_csv(request: Request) -> Response:
        report = await asyncio.to_thread(gw.report)
        return PlainTextResponse(report.as_csv(), media_type="text/csv", headers={
            "Content-Disposition": 'attachment; filename="transparency-report.csv"'})

    async def issue_token(request: Request) -> Response:
        body = parse(await read_body(request, 1024), _Token)
        try:
            token = gw.tokens.issue(body.name)
        except ValueError as exc:
            raise HttpError(409, str(exc)) from None
        gw.store.write_json("tokens.json", gw.tokens.export())
        gw.audit.write({"event": "token.issued", "requester": body.name,
                        "principal": f"token:{body.name}"})
        return JSONResponse({"token": token, "principal": f"token:{body.name}"},
                            status_code=201)

    async def withdraw_token(request: Request) -> Response:
        name = request.path_params["name"]
        if not gw.tokens.withdraw(name):
            raise HttpError(404, "no such token")
        gw.store.write_json("tokens.json", gw.tokens.export())
        gw.audit.write({"event": "token.withdrawn", "principal": f"token:{name}"})
        return JSONResponse({"ok": True})

    async def export(request: Request) -> Response:
        body = parse(await read_body(request, 4096), _OwnerExport)
        grant = gw.sharing.grant(body.grant_id)
        if grant is None:
            raise HttpError(404, "no such grant")
        start = body.footage_from or grant.footage_from
        end = body.footage_until or grant.footage_until
        if start is None or end is None:
            raise HttpError(422, "give footage_from and footage_until")
        job = await gw.start_export(grant.principal, grant.grant_id, body.camera, start, end)
        gw.audit.write({"event": "export.requested", "by": "owner", "export_id": job.export_id,
                        "principal": grant.principal})
        return JSONResponse(job.public(), status_code=202)

    async def export_file(request: Request) -> Response:
        export_id = request.path_params["export_id"]
        kind = request.path_params["kind"]
        if kind not in ("clip.mp4", "manifest.json"):
            raise HttpError(404, "no such file")
        manifest = kind == "manifest.json"
        job = gw.exports.get(export_id)
        if job is None or job.state != "ready":
            raise HttpError(404, "no such export")
        path = gw.clip_path(export_id, manifest=manifest)
        gw.audit.write({"event": "export.downloaded", "export_id": export_id, "by": "owner",
                        "principal": "owner", "file": "manifest" if manifest else "clip"})
        name = f"{job.camera}-{export_id[:8]}.mp4" + (".manifest.json" if manifest else "")
        return FileResponse(path, filename=name,
                            media_type="application/json" if manifest else "video/mp4")

    async def delete_export(request: Request) -> Response:
        if not gw.delete_export(request.path_params["export_id"], reason="deleted by the owner"):
            raise HttpError(404, "no such export")
        return JSONResponse({"ok": True})

    read = {"mutating": False}
    return [
        *login_routes(gw),
        Route("/owner/api/overview", owner(overview, **read), methods=["GET"]),
        Route("/owner/api/cameras/{name}/snapshot.jpg", owner(snapshot, **read),
              methods=["GET"]),
        Route("/owner/api/scan", owner(scan), methods=["POST"]),
        Route("/owner/api/adopt", owner(adopt), methods=["POST"]),
        Route("/owner/api/requests/{request_id}/approve", owner(approve), methods=["POST"]),
        Route("/owner/api/requests/{request_id}/deny", owner(deny), methods=["POST"]),
        Route("/owner/api/requests/{request_id}/ask", owner(ask), methods=["POST"]),
        Route("/owner/api/grants/{grant_id}/revoke", owner(revoke), methods=["POST"]),
        Route("/owner/api/audit", owner(audit, **read), methods=["GET"]),
        Route("/owner/api/report.json", owner(report_json, **read), methods=["GET"]),
        Route("/owner/api/report.csv", owner(report_csv, **read), methods=["GET"]),
        Route("/owner/api/tokens", owner(issue_token), methods=["POST"]),
        Route("/owner/api/tokens/{name}/withdraw", owner(withdraw_token), methods=["POST"]),
        Route("/owner/api/exports", owner(export), methods=["POST"]),
        Route("/owner/api/exports/{export_id}/{kind:str}", owner(export_file, **read),
              methods=["GET"]),
        Route("/owner/api/exports/{export_id}/delete", owner(delete_export), methods=["POST"]),
    ]


def _check(check: Any) -> dict[str, Any]:
    return {"file": check.file, "ok": check.ok, "records": check.records,
            "signed_through": check.signed_through, "reason": check.reason}


def _key_id(gw: Gateway) -> str:
    from ..privacy import key_id

    return key_id(gw.key)


def _overview(gw: Gateway) -> dict[str, Any]:
    """Everything the owner page shows, in one answer."""
    names = {v: k for k, v in gw.camera_ids().items()}
    viewers: dict[str, int] = {}
    for live in gw.live.values():
        viewers[live.camera] = viewers.get(live.camera, 0) + 1
    grants = []
    for grant in gw.sharing.policy.grants:
        grants.append({
            "grant_id": grant.grant_id, "principal": grant.principal,
            "requester": gw.principal(grant.principal).display_name,
            "cameras": [names.get(c, c) for c in sorted(grant.cameras)],
            "mode": "recorded" if "record" in {a.value for a in grant.actions} else "live",
            "purpose": grant.purpose, "expires_at": grant.expires_at.isoformat(),
            "footage_from": grant.footage_from.isoformat() if grant.footage_from else None,
            "footage_until": grant.footage_until.isoformat() if grant.footage_until else None,
            "masks": len(grant.masks), "status": gw.sharing.status(grant),
        })
    requests = []
    for req in sorted(gw.sharing.requests.values(), key=lambda r: r.received_at, reverse=True):
        requests.append({**req.public(), "principal": req.principal,
                         "body": req.body.model_dump(mode="json"), "replies": list(req.replies)})
    return {
        "cameras": [gw.inventory.health(s, viewers.get(s.name, 0))
                    for s in gw.inventory.slots.values()],
        "findings": [f.public() for f in gw.inventory.findings.values()],
        "scanning": gw.inventory.scanning,
        "requests": requests,
        "grants": grants,
        "sessions": [{"session_id": s.session_id, "principal": s.principal,
                      "requester": gw.principal(s.principal).display_name,
                      "grant_id": s.grant_id, "camera": s.camera, "kind": s.kind,
                      "started_at": s.started_at.isoformat(), "transcoded": s.transcoded,
                      "bytes": s.bytes, "items": s.items} for s in gw.live.values()],
        "exports": [j.public() for j in gw.exports.values()],
        "tokens": gw.tokens.names(),
        "owner_key_id": _key_id(gw),
        "tls_fingerprint": gw.tls_fingerprint,
        "rtsp_port": gw.rtsp_port,
        "areas": {k: list(v) for k, v in gw.config.areas.items()},
    }
