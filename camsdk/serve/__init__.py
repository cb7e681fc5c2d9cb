"""The owner's gateway: ``camsdk serve site.toml`` (extra ``serve``: starlette, uvicorn).

One process that connects every camera on a site and shares it only on the
owner's signed, expiring, audited terms:

* `SiteConfig` / `load_site_config`: the site file (cameras, hubs, discovery,
  where to listen, retention, limits; secrets by reference only);
* `Gateway`: the composition: the owner's `camsdk.privacy.GrantPolicy` (grants
  signed with the owner's Ed25519 key), the hash-chained audit log, the
  adopted cameras, access requests and their answers, live viewers, signed
  exports, retention;
* `create_app`: the web application: the owner page (inventory, requests,
  sessions, audit log, transparency report, mask editor) and the requester
  API (documented at ``/api/v1/openapi.json``); `serve` runs it;
* `RequesterAuth`: signs a requester's calls (an ``httpx`` auth);
  `OwnerKeyAuth` logs a script in as the owner with a key (challenge-response);
* `verify_export`: checks a clip against its signed manifest
  (``camsdk export verify``); `hash_password` makes the owner's password hash.

Importing camsdk never imports this package. See ``docs/gateway.md``.
"""

from __future__ import annotations

from ._app import create_app, serve
from ._config import SiteConfig, load_site_config
from ._export import ExportVerification, verify_export
from ._gateway import Gateway
from ._identity import RequesterAuth
from ._owner_login import OwnerKeyAuth
from ._security import hash_password, verify_password

__all__ = [
    "ExportVerification",
    "Gateway",
    "OwnerKeyAuth",
    "RequesterAuth",
    "SiteConfig",
    "create_app",
    "hash_password",
    "load_site_config",
    "serve",
    "verify_export",
    "verify_password",
]
