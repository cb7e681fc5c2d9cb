"""The gateway's site file (``camsdk serve site.toml``): its schema and loading.

Secrets never sit in the file: camera and hub passwords are named by
environment variable (``password_env``) or by a file holding them
(``password_file``, as container secrets are mounted); the owner's password
is stored only as a scrypt hash (``camsdk serve --hash-password`` makes one).
A file that breaks a rule is a `ConfigurationError` naming every problem.

```toml
[server]
bind = "127.0.0.1"          # anything else needs tls
port = 8080
tls = "off"                 # "off", "self-signed" (generated, fingerprint shown) or "files"
rtsp_port = 8554            # RTSP restream for NVR software (leave out: off)

[owner]
password_hash_env = "CAMSDK_OWNER_HASH"   # or password_hash = "scrypt$..."
login_keys = ["laptop.pub"]               # more keys that may log in (the signing key may too)

[storage]
data_dir = "gateway-data"   # keys, grants, requests, audit log, footage, exports

[[cameras]]
name = "porch"
url = "rtsp://192.168.1.20/stream1"
username = "viewer"
password_env = "PORCH_PASSWORD"
record = true               # keep footage, so recorded windows can be shared
```
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .._config_secrets import password_by_reference
from .._errors import ConfigurationError
from .._models import Credentials
from .._url import CameraURL
from ..privacy import PrivacyMask

__all__ = [
    "CameraEntry",
    "DiscoverySettings",
    "EgressSettings",
    "ExportSettings",
    "HubEntry",
    "LimitSettings",
    "OwnerSettings",
    "RetentionSettings",
    "ServerSettings",
    "SiteConfig",
    "StorageSettings",
    "check_owner_login",
    "load_login_keys",
    "load_site_config",
]

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")

#: Where the gateway may connect by default: this host and private networks.
DEFAULT_EGRESS = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
)
_LOCAL_SCHEMES = frozenset({"virtual", "file"})


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _by_reference(what: str) -> Any:
    return password_by_reference(
        f"put {what} passwords in an environment variable (password_env) "
        "or a file (password_file), never in the site file"
    )


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    url: str
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    #: Driver options, as for ``camsdk.open(url, **options)``.
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    #: `camsdk.CameraConfig` fields (timeouts, backoff ...).
    config: dict[str, Any] = Field(default_factory=dict)

    _secrets_by_reference = _by_reference("camera")

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("names are 1-63 lower-case letters, digits, '-' or '_'")
        return value

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV.fullmatch(value):
            raise ValueError("password_env must name an environment variable")
        return value

    @field_validator("url")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:
            url = CameraURL.parse(value)
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from None
        if url.password:
            raise ValueError("the URL carries a password: use username and password_env")
        return value

    @model_validator(mode="after")
    def _one_secret_source(self) -> _Entry:
        if self.password_env and self.password_file:
            raise ValueError("give password_env or password_file, not both")
        return self

    def credentials(self) -> Credentials | None:
        """The login, the password read now from its environment variable or file."""
        if not self.username:
            return None
        password = ""
        if self.password_env:
            password = os.environ.get(self.password_env, "")
            if not password:
                raise ConfigurationError(
                    f"{self.name}: environment variable {self.password_env} is not set"
                )
        elif self.password_file:
            try:
                password = self.password_file.read_text("utf-8").strip()
            except OSError as exc:
                raise ConfigurationError(
                    f"{self.name}: cannot read password_file: {exc.strerror}"
                ) from None
        return Credentials(self.username, password)


class CameraEntry(_Entry):
    """One ``[[cameras]]`` entry: a camera the owner has adopted."""

    #: Keep footage continuously, so that recorded windows can be shared.
    record: bool = False
    #: Masks applied for everyone who sees this camera, the owner included.
    masks: tuple[PrivacyMask, ...] = ()
    profile: str | None = None


class HubEntry(_Entry):
    """One ``[[hubs]]`` entry: an NVR or account; its cameras are found, not adopted."""


class ServerSettings(BaseModel):
    """The ``[server]`` table: where the owner page and the API listen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bind: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    tls: Literal["off", "self-signed", "files"] = "off"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: The RTSP restream's port (``None``: off; 0: any free port).
    rtsp_port: int | None = Field(default=None, ge=0, le=65535)
    rtsp_bind: str | None = None

    @field_validator("bind", "rtsp_bind")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value is None or value == "localhost":
            return value
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("bind must be an IP address (or localhost)") from None
        return value

    @property
    def loopback(self) -> bool:
        """Whether the page and the API are reachable from this machine only."""
        return _is_loopback(self.bind) and _is_loopback(self.rtsp_bind or self.bind)

    @model_validator(mode="after")
    def _tls_off_loopback(self) -> ServerSettings:
        if not self.loopback and self.tls == "off":
            raise ValueError("binding beyond loopback requires tls = \"self-signed\" or \"files\"")
        if self.tls == "files" and not (self.tls_cert and self.tls_key):
            raise ValueError('tls = "files" needs tls_cert and tls_key')
        return self


class OwnerSettings(BaseModel):
    """The ``[owner]`` table: how the owner logs in, which key signs grants."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: ``scrypt$...`` as ``camsdk serve --hash-password`` prints it.
    password_hash: str | None = None
    password_hash_env: str | None = None
    #: The owner's Ed25519 signing key (PEM); default ``<data_dir>/owner.key``, made on first run.
    signing_key: Path | None = None
    signing_key_password_env: str | None = None
    session_minutes: int = Field(default=60, ge=1, le=24 * 60)
    #: Ed25519 public keys that may log in by signing a challenge: key files (PEM or raw)
    #: or the key itself as base64/hex text.
    login_keys: tuple[str, ...] = ()
    #: Whether the owner's own signing key may log in too (its holder can sign grants anyway).
    signing_key_login: bool = True

    _hash_only = _by_reference("owner")

    @field_validator("login_keys")
    @classmethod
    def _key_entries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not item.strip() or len(item) > 4096:
                raise ValueError("login_keys holds key files or base64 public keys")
            if item.lstrip().startswith("-----BEGIN"):
                _inline_key(item)  # a PEM pasted in: it must parse now
        return value

    def password_hash_value(self) -> str | None:
        """The stored hash, from the file or its environment variable."""
        if self.password_hash:
            return self.password_hash
        if self.password_hash_env:
            return os.environ.get(self.password_hash_env) or None
        return None


def _inline_key(item: str) -> Ed25519PublicKey | None:
    """The public key written in ``item`` itself (PEM, base64 or hex), or ``None``."""
    from ..privacy import load_public_key

    text = item.strip()
    if not text.startswith("-----BEGIN"):
        text += "=" * (-len(text) % 4)  # base64url is often written without its padding
    try:
        return load_public_key(text.encode("utf-8"))
    except ValueError:
        if item.lstrip().startswith("-----BEGIN"):
            raise ValueError("a login key in PEM form is not an Ed25519 public key") from None
        return None


def check_owner_login(owner: OwnerSettings, keys: int) -> None:
    """Refuse a site whose owner could not log in (`ConfigurationError`).

    ``keys`` counts the keys that may log in (``login_keys`` and, when
    allowed, the signing key).
    """
    if keys or owner.password_hash_value() is not None:
        return
    where = (f"environment variable {owner.password_hash_env} is not set"
             if owner.password_hash_env else "no password_hash")
    raise ConfigurationError(
        "the owner could not log in: [owner] has no password hash "
        f"({where}) and no key may log in (login_keys is empty and "
        "signing_key_login = false); set one (camsdk serve --hash-password)")


def load_login_keys(owner: OwnerSettings) -> list[Ed25519PublicKey]:
    """The Ed25519 public keys of ``[owner] login_keys`` (files read now).

    Raises `ConfigurationError` naming an entry that is neither a readable key
    file nor a key.
    """
    from ..privacy import load_public_key

    keys: list[Ed25519PublicKey] = []
    for item in owner.login_keys:
        key = _inline_key(item)
        if key is None:
            try:
                key = load_public_key(Path(item))
            except (OSError, ValueError) as exc:
                raise ConfigurationError(
                    f"[owner] login_keys: {item!r} is neither a readable Ed25519 public key "
                    f"file nor a key: {getattr(exc, 'strerror', None) or exc}"
                ) from None
        keys.append(key)
    return keys


class ExportSettings(BaseModel):
    """The ``[exports]`` table: what an exported clip carries besides camsdk's manifest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Embed a C2PA manifest in each clip: ``"auto"`` when the ``c2pa`` library is installed,
    #: ``true`` to require it (the gateway refuses to start without it), ``false`` off.
    c2pa: bool | Literal["auto"] = "auto"
    #: The C2PA signing certificate chain (PEM, signer first) and its private key (PEM,
    #: Ed25519 or EC P-256); default: certificates made from the owner's key.
    c2pa_certs: Path | None = None
    c2pa_key: Path | None = None
    c2pa_key_password_env: str | None = None

    @model_validator(mode="after")
    def _both_files(self) -> ExportSettings:
        if (self.c2pa_certs is None) != (self.c2pa_key is None):
            raise ValueError("give both c2pa_certs and c2pa_key, or neither")
        return self


class StorageSettings(BaseModel):
    """The ``[storage]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Path("camsdk-gateway")
    #: Seconds per footage segment kept for cameras with ``record = true``.
    segment_seconds: float = Field(default=10.0, ge=1.0, le=600.0)
    #: An audit checkpoint every this many records (and on shutdown).
    checkpoint_every: int = Field(default=100, ge=1)


class RetentionSettings(BaseModel):
    """The ``[retention]`` table: how long each kind of data is kept (days)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    footage_days: float = Field(default=7.0, gt=0)
    exports_days: float = Field(default=30.0, gt=0)
    #: Closed audit logs (rotated monthly) older than this are deleted, with a record.
    audit_days: float = Field(default=730.0, gt=0)
    #: Requests nobody answered expire after this many days.
    pending_days: float = Field(default=14.0, gt=0)


class DiscoverySettings(BaseModel):
    """The ``[discovery]`` table: opt-in, since it sends packets onto the network."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    timeout: float = Field(default=3.0, gt=0, le=30)
    schemes: tuple[str, ...] | None = None


class EgressSettings(BaseModel):
    """The ``[egress]`` table: networks the gateway may connect to (cameras, hubs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow: tuple[str, ...] = DEFAULT_EGRESS
    #: Extra host names (cloud hubs) the gateway may contact.
    hosts: tuple[str, ...] = ()

    @field_validator("allow")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not a network (CIDR)") from None
        return value

    def permits(self, url: str) -> bool:
        """Whether a camera or hub at ``url`` is inside the declared egress."""
        parsed = CameraURL.parse(url)
        if parsed.scheme in _LOCAL_SCHEMES:
            return True
        host = parsed.host.strip("[]")
        if host.lower() in {h.lower() for h in self.hosts}:
            return True
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return host == "localhost"
        return any(address in ipaddress.ip_network(n, strict=False) for n in self.allow)


class LimitSettings(BaseModel):
    """The ``[limits]`` table: sizes, rates and lockouts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    login_attempts: int = Field(default=5, ge=1)
    lockout_seconds: float = Field(default=900.0, gt=0)
    #: Access requests accepted per requester (and per client address) per hour.
    requests_per_hour: int = Field(default=10, ge=1)
    #: API calls per requester per minute.
    calls_per_minute: int = Field(default=120, ge=1)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=4 * 1024 * 1024)
    max_live_viewers: int = Field(default=32, ge=1)
    max_grant_days: float = Field(default=30.0, gt=0)
    max_clip_seconds: float = Field(default=3600.0, gt=0)


class SiteConfig(BaseModel):
    """A whole site file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    server: ServerSettings = ServerSettings()
    owner: OwnerSettings = OwnerSettings()
    storage: StorageSettings = StorageSettings()
    retention: RetentionSettings = RetentionSettings()
    discovery: DiscoverySettings = DiscoverySettings()
    egress: EgressSettings = EgressSettings()
    limits: LimitSettings = LimitSettings()
    exports: ExportSettings = ExportSettings()
    cameras: tuple[CameraEntry, ...] = ()
    hubs: tuple[HubEntry, ...] = ()
    #: Named groups of cameras a requester may ask for ("the street side").
    areas: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> SiteConfig:
        names = [c.name for c in self.cameras] + [h.name for h in self.hubs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"names must be unique: {', '.join(dupes)}")
        for entry in (*self.cameras, *self.hubs):
            if not self.egress.permits(entry.url):
                raise ValueError(
                    f"{entry.name}: its host is outside the declared egress ([egress] allow)"
                )
        known = {c.name for c in self.cameras}
        for area, members in self.areas.items():
            unknown = [m for m in members if m not in known]
            if unknown:
                raise ValueError(f"area {area!r} names unknown cameras: {', '.join(unknown)}")
        return self


def load_site_config(path: str | os.PathLike[str]) -> SiteConfig:
    """Read and validate a site file; `ConfigurationError` lists every problem.

    A relative ``data_dir`` (and key, certificate and password files) is
    taken relative to the file's directory.
    """
    source = Path(path)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read site config {source}: {exc}") from exc
    try:
        config = SiteConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(f"invalid site config {source}: {problems}") from None
    return _relative_to(config, source.resolve().parent)


def _relative_to(config: SiteConfig, base: Path) -> SiteConfig:
    def fix(p: Path | None) -> Path | None:
        return p if p is None or p.is_absolute() else base / p

    storage = config.storage.model_copy(update={"data_dir": base / config.storage.data_dir})
    server = config.server.model_copy(
        update={"tls_cert": fix(config.server.tls_cert), "tls_key": fix(config.server.tls_key)}
    )
    login_keys = tuple(k if _inline_key(k) is not None else str(fix(Path(k)))
                       for k in config.owner.login_keys)
    owner = config.owner.model_copy(update={"signing_key": fix(config.owner.signing_key),
                                            "login_keys": login_keys})
    exports = config.exports.model_copy(update={"c2pa_certs": fix(config.exports.c2pa_certs),
                                                "c2pa_key": fix(config.exports.c2pa_key)})
    cameras = tuple(
        c.model_copy(update={"password_file": fix(c.password_file)}) for c in config.cameras
    )
    hubs = tuple(h.model_copy(update={"password_file": fix(h.password_file)}) for h in config.hubs)
    return config.model_copy(
        update={"storage": storage, "server": server, "owner": owner, "cameras": cameras,
                "hubs": hubs, "exports": exports}
    )
