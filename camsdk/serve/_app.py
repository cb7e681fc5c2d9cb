"""The gateway's web application (Starlette) and how ``camsdk serve`` runs it (uvicorn).

`create_app` serves the owner page (``/``), the requester's live viewer
(``/view``), their static files, the owner API and the requester API, with
security headers on every answer. `serve` starts a `Gateway` from a site
file and runs the application on the configured address; beyond loopback
only with TLS (the config refuses otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .._log import get_logger
from ._config import SiteConfig
from ._gateway import Gateway
from ._http import SecurityHeaders
from ._owner_api import owner_routes
from ._requester_api import requester_routes

__all__ = ["create_app", "serve", "static_dir"]

log = get_logger("camsdk.serve")


def static_dir() -> Path:
    """The directory of the pages' HTML, CSS and JavaScript (package data)."""
    return Path(str(resources.files("camsdk.serve") / "static"))


def create_app(gateway: Gateway) -> Starlette:
    """The ASGI application for a started ``gateway``."""
    static = static_dir()

    async def owner_page(request: Request) -> Response:
        return FileResponse(static / "owner.html", media_type="text/html")

    async def viewer_page(request: Request) -> Response:
        return FileResponse(static / "view.html", media_type="text/html")

    routes: list[BaseRoute] = [
        Route("/", owner_page, methods=["GET"]),
        Route("/view", viewer_page, methods=["GET"]),
        Mount("/static", StaticFiles(directory=static), name="static"),
        *owner_routes(gateway),
        *requester_routes(gateway),
    ]
    tls = gateway.config.server.tls != "off"
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders, tls=tls)],
                     max_body_size=gateway.config.limits.max_body_bytes * 4)


async def serve(config: SiteConfig) -> None:
    """Run the gateway until SIGINT/SIGTERM (``camsdk serve site.toml``).

    The address (and the TLS certificate's fingerprint) is printed once the
    server listens; uvicorn stops on a signal, then the gateway closes (its
    audit log ends with a signed checkpoint).
    """
    import uvicorn

    from ._tls import certificate_fingerprint, self_signed_certificate

    server_cfg = config.server
    async with Gateway(config) as gateway:
        ssl: dict[str, str] = {}
        if server_cfg.tls == "self-signed":
            cert, key = self_signed_certificate(gateway.store.directory, server_cfg.bind)
            ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        elif server_cfg.tls == "files":
            assert server_cfg.tls_cert and server_cfg.tls_key
            ssl = {"ssl_certfile": str(server_cfg.tls_cert),
                   "ssl_keyfile": str(server_cfg.tls_key)}
        if ssl:
            pem = await asyncio.to_thread(Path(ssl["ssl_certfile"]).read_bytes)
            gateway.tls_fingerprint = certificate_fingerprint(pem)
        # No per-message deflate: compressing H.264 saves nothing and was most of
        # a live viewer's CPU (benchmarks/bench_gateway.py).
        uv = uvicorn.Server(uvicorn.Config(
            create_app(gateway), host=server_cfg.bind, port=server_cfg.port, log_level="warning",
            lifespan="off", ws="websockets-sansio", ws_per_message_deflate=False,
            proxy_headers=False, server_header=False,
            **ssl,  # type: ignore[arg-type]
        ))
        task = asyncio.get_running_loop().create_task(uv.serve())
        while not uv.started and not task.done():  # uvicorn has no "listening" event
            await asyncio.sleep(0.05)
        if uv.started:
            scheme = "https" if ssl else "http"
            print(f"camsdk gateway: owner page at {scheme}://{server_cfg.bind}:"
                  f"{server_cfg.port}/", flush=True)
            if ssl:
                print(f"TLS certificate SHA-256 fingerprint: {gateway.tls_fingerprint}",
                      flush=True)
            if gateway.rtsp_port:
                print(f"RTSP restream on port {gateway.rtsp_port}", flush=True)
        await task


@contextlib.asynccontextmanager
async def running(gateway: Gateway, host: str = "127.0.0.1", port: int = 0
                  ) -> AsyncIterator[str]:
    """Run ``gateway``'s application with uvicorn on ``host``; yield its base URL.

    For tests and benchmarks: the server stops (connections closed) on exit.
    """
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    uv = uvicorn.Server(uvicorn.Config(
        create_app(gateway), log_level="warning", lifespan="off", ws="websockets-sansio",
        ws_per_message_deflate=False, server_header=False, timeout_graceful_shutdown=2))
    # Leave the process's signal handlers alone: the caller owns them.
    uv.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.get_running_loop().create_task(uv.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(30):
            while not uv.started:  # uvicorn has no "started" event to wait on
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        uv.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()
