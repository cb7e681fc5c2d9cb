"""The requester API's OpenAPI 3.1 document (``GET /api/v1/openapi.json``).

Request bodies are the pydantic models' own JSON schemas, so the document
cannot drift from what the gateway validates.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ._requests import AccessRequestIn, ExportIn, LiveIn, Reply

__all__ = ["openapi_document"]

_AUTH: list[dict[str, list[str]]] = [{"ed25519": []}, {"token": []}]


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{name}"}}}}


def _answers(ok: str, *codes: int) -> dict[str, Any]:
    meanings = {200: "OK", 201: "created", 202: "accepted, being prepared",
                401: "no proof of identity", 403: "not allowed under any active grant",
                404: "unknown, or not yours", 409: "not in a state that allows it",
                413: "body too large", 422: "invalid body", 429: "rate limited"}
    out: dict[str, Any] = {str(c): {"description": meanings[c]} for c in codes}
    out[ok] = {"description": meanings[int(ok)]}
    return out


def _op(summary: str, ok: str, *codes: int, body: str | None = None,
        params: tuple[str, ...] = ()) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "security": _AUTH,
                          "responses": _answers(ok, 401, 429, *codes)}
    if body:
        op["requestBody"] = _body(body)
    if params:
        op["parameters"] = [{"name": p, "in": "path", "required": True,
                             "schema": {"type": "string"}} for p in params]
    return op


@cache
def openapi_document() -> dict[str, Any]:
    """The document (built once)."""
    schemas = {}
    for model in (AccessRequestIn, Reply, LiveIn, ExportIn):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "camsdk gateway: requester API",
            "version": "1",
            "description": (
                "Ask a camera owner for access, follow the answer, and use what was granted. "
                "Every call is signed with your Ed25519 key (Authorization: Camsdk-Ed25519 "
                "key=, ts=, nonce=, sig= over 'camsdk-request-v1', method, path and query, "
                "ts, nonce and the body's SHA-256, one per line) or carries a token the owner "
                "issued (Authorization: Bearer). Every call is written to the owner's audit "
                "log."
            ),
        },
        "components": {
            "securitySchemes": {
                "ed25519": {"type": "apiKey", "in": "header", "name": "Authorization",
                            "description": "Camsdk-Ed25519 signature (see info)"},
                "token": {"type": "http", "scheme": "bearer"},
            },
            "schemas": schemas,
        },
        "paths": {
            "/api/v1/catalog": {"get": _op("Cameras and areas you may ask for", "200")},
            "/api/v1/requests": {"post": _op("Submit an access request", "201", 413, 422,
                                             body="AccessRequestIn")},
            "/api/v1/requests/{request_id}": {
                "get": _op("Your request's state and the owner's note", "200", 404,
                           params=("request_id",))},
            "/api/v1/requests/{request_id}/reply": {
                "post": _op("Answer the owner's question", "200", 404, 409, 422, body="Reply",
                            params=("request_id",))},
            "/api/v1/grants": {"get": _op("Your grants and their state", "200")},
            "/api/v1/grants/{grant_id}/rtsp": {
                "get": _op("RTSP restream URLs and this grant's own login", "200", 403, 404,
                           params=("grant_id",))},
            "/api/v1/cameras": {"get": _op("Cameras you may see now", "200")},
            "/api/v1/live": {"post": _op(
                "A one-minute, one-time ticket for the live WebSocket "
                "(/api/v1/live/ws?ticket=...: a JSON 'init' message with the MSE type, then "
                "fragmented MP4; a JSON 'end' message and close code 4403 when access ends)",
                "201", 403, 404, 422, body="LiveIn")},
            "/api/v1/exports": {"post": _op("Cut a clip of the granted window", "202", 403,
                                            404, 422, body="ExportIn")},
            "/api/v1/exports/{export_id}": {
                "get": _op("The export's state", "200", 404, params=("export_id",))},
            "/api/v1/exports/{export_id}/clip.mp4": {
                "get": _op("The clip", "200", 403, 404, 409, params=("export_id",))},
            "/api/v1/exports/{export_id}/manifest.json": {
                "get": _op("Its signed manifest (check with camsdk export verify)", "200",
                           403, 404, 409, params=("export_id",))},
        },
    }
