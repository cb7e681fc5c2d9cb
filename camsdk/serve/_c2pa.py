"""C2PA manifests in exported clips (extra ``c2pa``: the ``c2pa-python`` library).

When the library is installed (and ``[exports] c2pa`` is not ``false``),
each clip also carries a C2PA manifest embedded in the MP4: claim generator
``camsdk``, the actions ``c2pa.created`` (a digital capture) and
``c2pa.published`` (plus ``c2pa.edited`` when masks were applied), and a
``org.camsdk.export`` assertion naming the export, grant, requester, camera
and window. It is signed without a timestamp authority and verified without
OCSP or remote manifests: nothing leaves the machine.

C2PA signs with X.509 certificates. Unless the site file names its own
(``c2pa_certs`` and ``c2pa_key``), the gateway makes two from the owner's
Ed25519 key, once, in the data directory (``c2pa-chain.pem``): a
**self-signed** root "camsdk owner <key id>" and, issued by it, the signing
certificate of the same key (C2PA refuses a self-signed signing
certificate). No public authority vouches for them; what vouches is the
camsdk manifest, signed by the owner's key, which names the root as the
clip's trust anchor. `check_clip` verifies against that anchor, so a valid
clip reads ``Trusted``; ``Valid`` means intact but not chained to it.

The library is imported only here, and only when used.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .._errors import ConfigurationError, RecordingError
from .._private_file import write_private
from ..privacy import key_id

__all__ = [
    "ASSERTION",
    "C2paCheck",
    "C2paSigning",
    "c2pa_available",
    "check_clip",
    "describe",
    "embed_manifest",
    "owner_certificates",
    "signing_from_files",
]

ASSERTION = "org.camsdk.export"
CHAIN_FILE = "c2pa-chain.pem"
_CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
#: Settings that keep the library off the network: no OCSP, no remote manifests.
_OFFLINE: dict[str, Any] = {"verify": {"ocsp_fetch": False, "remote_manifest_fetch": False}}
_RENEW = timedelta(days=30)
_MAX_CERTS_BYTES = 256 * 1024


def _library() -> Any:
    # Imported by name: the library is optional and ships no type information.
    return importlib.import_module("c2pa")


def c2pa_available() -> bool:
    """Whether the ``c2pa`` library can be imported (``pip install camsdk[c2pa]``)."""
    return importlib.util.find_spec("c2pa") is not None


@dataclass(frozen=True, slots=True)
class C2paSigning:
    """What signs a clip's C2PA manifest: the certificate chain and the key's signature."""

    #: PEM, signing certificate first.
    chain: str
    #: The COSE algorithm name the library knows (``ED25519`` or ``ES256``).
    algorithm: str
    sign: Callable[[bytes], bytes] = field(repr=False)

    @property
    def trust_anchor(self) -> str:
        """The chain's last certificate (PEM): the root a verifier should trust."""
        marker = "-----BEGIN CERTIFICATE-----"
        return marker + self.chain.rsplit(marker, 1)[1]


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "camsdk gateway")])


def _usage(*, signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=signing, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=not signing, crl_sign=not signing, encipher_only=False,
                         decipher_only=False)


def _make_chain(key: Ed25519PrivateKey, now: datetime) -> str:
    public = key.public_key()
    root_name = _name(f"camsdk owner {key_id(key)}")
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(public).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=20 * 365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(signing=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, None))
    signer = (x509.CertificateBuilder().subject_name(_name("camsdk export signer"))
              .issuer_name(root_name).public_key(public)
              .serial_number(x509.random_serial_number())
              .not_valid_before(now - timedelta(hours=1))
              .not_valid_after(now + timedelta(days=2 * 365))
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(_usage(signing=True), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                             critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public),
                             critical=False)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
              .sign(key, None))
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii")
                   for c in (signer, root))


def _chain_fits(chain: str, key: Ed25519PrivateKey, now: datetime) -> bool:
    try:
        certs = x509.load_pem_x509_certificates(chain.encode("ascii"))
    except ValueError:
        return False
    if len(certs) != 2:
        return False
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    mine = key.public_key().public_bytes(*raw)
    return (all(c.public_key().public_bytes(*raw) == mine for c in certs)
            and certs[0].not_valid_after_utc - _RENEW > now)


def owner_certificates(key: Ed25519PrivateKey, directory: Path,
                       now: datetime | None = None) -> C2paSigning:
    """The gateway's own C2PA chain for ``key``, made (or renewed near its end) in ``directory``."""
    now = now or datetime.now(UTC)
    path = directory / CHAIN_FILE
    try:
        chain = path.read_text("ascii")
    except (OSError, UnicodeDecodeError):
        chain = ""
    if not _chain_fits(chain, key, now):
        chain = _make_chain(key, now)
        write_private(path, chain.encode("ascii"))
    return C2paSigning(chain, "ED25519", key.sign)


def signing_from_files(certs: Path, private_key: Path, password: bytes | None = None
                       ) -> C2paSigning:
    """A chain and key from the owner's own files (Ed25519, or EC P-256 for ES256)."""
    try:
        if certs.stat().st_size > _MAX_CERTS_BYTES:
            raise ConfigurationError(f"[exports] c2pa_certs {certs} is larger than 256 KiB")
        chain = certs.read_text("ascii")
        found = x509.load_pem_x509_certificates(chain.encode("ascii"))
        key = serialization.load_pem_private_key(private_key.read_bytes(), password=password)
    except (OSError, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"[exports] cannot read the C2PA certificates or key: "
            f"{getattr(exc, 'strerror', None) or exc}") from None
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if found[0].public_key().public_bytes(*raw) != key.public_key().public_bytes(*raw):
        raise ConfigurationError("[exports] c2pa_key is not the key of c2pa_certs' first "
                                 "certificate")
    if isinstance(key, Ed25519PrivateKey):
        return C2paSigning(chain, "ED25519", key.sign)
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        ec_key = key

        def sign_es256(data: bytes) -> bytes:
            return ec_key.sign(data, ec.ECDSA(hashes.SHA256()))

        return C2paSigning(chain, "ES256", sign_es256)
    raise ConfigurationError("[exports] c2pa_key must be an Ed25519 or EC P-256 key")


def _manifest(title: str, fields: dict[str, Any], masked: bool, version: str) -> dict[str, Any]:
    actions: list[dict[str, Any]] = [{"action": "c2pa.created", "digitalSourceType": _CAPTURE,
                                      "softwareAgent": {"name": "camsdk", "version": version}}]
    if masked:
        actions.append({"action": "c2pa.edited",
                        "description": "privacy masks drawn by the camera's owner"})
    actions.append({"action": "c2pa.published"})
    return {
        "claim_generator_info": [{"name": "camsdk", "version": version}],
        "title": title,
        "format": "video/mp4",
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": actions}},
            {"label": ASSERTION, "data": fields},
        ],
    }


def embed_manifest(clip: Path, fields: dict[str, Any], signing: C2paSigning, *,
                   masked: bool = False) -> None:
    """Embed a signed C2PA manifest in ``clip`` (replaced whole; blocking).

    ``fields`` is the ``org.camsdk.export`` assertion. Raises `RecordingError`
    when the library refuses (the clip is then left as it was).
    """
    from .. import __version__

    c2pa = _library()

    tmp = clip.with_name(f".{clip.name}.c2pa")
    manifest = _manifest(clip.name, fields, masked, __version__)
    try:
        with (c2pa.Context.from_dict(_OFFLINE) as context,
              c2pa.Builder(manifest, context) as builder,
              c2pa.Signer.from_callback(signing.sign, getattr(c2pa.C2paSigningAlg,
                                                              signing.algorithm),
                                        signing.chain, None) as signer):
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            with clip.open("rb") as source, os.fdopen(fd, "w+b") as dest:
                builder.sign(signer, "video/mp4", source, dest)
                dest.flush()
                os.fsync(dest.fileno())
        os.replace(tmp, clip)
    except c2pa.C2paError as exc:
        raise RecordingError(f"the C2PA manifest could not be embedded: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class C2paCheck:
    """A clip's C2PA manifest as the library validated it."""

    #: ``Trusted`` (intact, chained to the given anchor), ``Valid`` (intact), ``Invalid``,
    #: ``absent`` (no manifest embedded) or ``unreadable``.
    state: str
    #: The failure codes (e.g. ``assertion.bmffHash.mismatch``) when not valid.
    failures: tuple[str, ...] = ()
    #: The ``org.camsdk.export`` assertion, as embedded.
    assertion: dict[str, Any] = field(default_factory=dict)
    #: Who signed: the signing certificate's common name and issuer.
    signer: str = ""
    #: The claim generator's name and the actions recorded, in order.
    generator: str = ""
    actions: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the manifest is intact (``Valid`` or ``Trusted``)."""
        return self.state in ("Valid", "Trusted")


def check_clip(clip: Path, trust_anchor: str | None = None) -> C2paCheck:
    """Validate the C2PA manifest embedded in ``clip`` (blocking; offline).

    With ``trust_anchor`` (a PEM root) a manifest whose chain ends there is
    ``Trusted``.
    """
    c2pa = _library()
    settings: dict[str, Any] = dict(_OFFLINE)
    if trust_anchor:
        settings["trust"] = {"trust_anchors": trust_anchor}
    try:
        with (c2pa.Context.from_dict(settings) as context, clip.open("rb") as stream):
            reader = c2pa.Reader.try_create("video/mp4", stream, context=context)
            if reader is None:
                return C2paCheck("absent")
            with reader:
                state = reader.get_validation_state() or "unreadable"
                results = reader.get_validation_results() or {}
                active = reader.get_active_manifest() or {}
    except (c2pa.C2paError, OSError) as exc:
        return C2paCheck("unreadable", (type(exc).__name__,))
    failures = tuple(str(item.get("code")) for item in
                     (results.get("activeManifest") or {}).get("failure", []))
    assertion: dict[str, Any] = next((a.get("data", {}) for a in active.get("assertions", [])
                      if a.get("label") == ASSERTION), {})
    info = active.get("signature_info") or {}
    signer = " / ".join(str(info[k]) for k in ("common_name", "issuer") if info.get(k))
    generator = next((str(g.get("name", "")) for g in active.get("claim_generator_info", [])), "")
    actions = tuple(str(action.get("action")) for a in active.get("assertions", [])
                    if str(a.get("label", "")).startswith("c2pa.actions")
                    for action in (a.get("data") or {}).get("actions", []))
    return C2paCheck(state, failures, assertion, signer, generator, actions)


def describe(check: C2paCheck) -> str:
    """One line for ``camsdk export verify``."""
    if check.state == "absent":
        return "C2PA: no manifest embedded"
    detail = f" ({', '.join(check.failures)})" if check.failures else ""
    who = f", signed by {check.signer}" if check.signer else ""
    return f"C2PA: {check.state}{who}{detail}"

