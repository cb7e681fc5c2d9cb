"""Broken answers a hostile device gives to a JSON API call, for replay tests of any driver."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


def broken_json_answers(json_content_type: str) -> list[Any]:
    """`pytest.param` answers every JSON API must turn into a typed error, in bounded time
    and memory: a nesting bomb (labelled ``json_content_type``, as the vendor labels JSON),
    an HTML error page and a body that declares 3 MiB but sends 64 bytes."""

    def bomb(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"[" * 200_000,
                              headers={"Content-Type": json_content_type})

    return [
        pytest.param(bomb, id="nesting-bomb"),
        pytest.param(httpx.Response(200, content=b"<html><body>502 Bad Gateway</body></html>",
                                    headers={"Content-Type": "text/html"}), id="html-page"),
        pytest.param(httpx.Response(200, content=b"x" * 64,
                                    headers={"Content-Length": str(3 * 1024 * 1024)}),
                     id="oversized"),
    ]
