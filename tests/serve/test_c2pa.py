"""C2PA manifests in exported clips: embedded when the library is installed, chained to the
owner's key through the signed camsdk manifest, validated offline by ``camsdk export
verify``; without the library (or with ``[exports] c2pa = false``) exports work as before."""

from __future__ import annotations

import io
import json
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from camsdk import ConfigurationError
from camsdk.cli import main
from camsdk.privacy import generate_signing_key, save_private_key, save_public_key
from camsdk.serve import Gateway, verify_export
from camsdk.serve import _gateway as gateway_module
from camsdk.serve._c2pa import (
    CHAIN_FILE,
    c2pa_available,
    check_clip,
    embed_manifest,
    owner_certificates,
    signing_from_files,
)

from ._helpers import OwnerClient, Requester, site_config, started
from .test_exports import MASK, _download, _footage, _ready, _recorded_grant

pytestmark = pytest.mark.anyio
needs_c2pa = pytest.mark.skipif(not c2pa_available(), reason="needs pip install camsdk[c2pa]")


async def _exported_clip(gateway: Gateway, owner: OwnerClient, requester: Requester,
                         folder: Path, **approval: object) -> Path:
    start, end = await _footage(gateway, 2)
    grant = await _recorded_grant(owner, requester, start, end, **approval)
    state = await _ready(gateway, requester, grant, start, end)
    return await _download(requester, state["export_id"], folder)


def _flip_a_byte_of_the_media(clip: Path) -> None:
    """Change one byte in the middle of the ``mdat`` box (the pictures themselves)."""
    data = bytearray(clip.read_bytes())
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"mdat":
            data[offset + size // 2] ^= 0xFF
            clip.write_bytes(bytes(data))
            return
        assert size >= 8, "a box size the test does not handle"
        offset += size
    raise AssertionError("no mdat box in the clip")


def _small_clip(path: Path) -> Path:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 40, np.uint8),
                                               format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    path.write_bytes(buffer.getvalue())
    return path


@needs_c2pa
async def test_an_export_embeds_a_c2pa_manifest_that_verifies_as_trusted(
        gateway: Gateway, owner: OwnerClient, requester: Requester, tmp_path: Path) -> None:
    clip = await _exported_clip(gateway, owner, requester, tmp_path)
    result = verify_export(clip, public_key=gateway.key.public_key())
    assert result.ok, result.reason
    check = result.c2pa
    assert check is not None and check.state == "Trusted", check
    assert check.generator == "camsdk"
    assert check.actions == ("c2pa.created", "c2pa.published")
    manifest = result.manifest
    assert {k: check.assertion[k] for k in ("grant_id", "requester", "camera", "window")} == {
        k: manifest[k] for k in ("grant_id", "requester", "camera", "window")}
    assert manifest["c2pa"]["embedded"] is True
    assert check.signer.startswith("camsdk export signer")


@needs_c2pa
async def test_a_tampered_clip_fails_its_c2pa_check_and_export_verify(
        gateway: Gateway, owner: OwnerClient, requester: Requester, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    clip = await _exported_clip(gateway, owner, requester, tmp_path)
    _flip_a_byte_of_the_media(clip)
    check = check_clip(clip)
    assert check.state == "Invalid" and "assertion.bmffHash.mismatch" in check.failures
    owner_pub = tmp_path / "owner.pub"
    save_public_key(gateway.key, owner_pub)
    assert main(["export", "verify", str(clip), "--key", str(owner_pub)]) == 1
    out = capsys.readouterr().out
    assert "BAD:" in out and "C2PA: Invalid" in out


@needs_c2pa
async def test_a_clip_altered_and_re_signed_with_another_key_still_fails_its_c2pa_check(
        gateway: Gateway, owner: OwnerClient, requester: Requester, tmp_path: Path) -> None:
    from camsdk.privacy._keys import canonical_json
    from camsdk.serve._export import file_sha256, sign_manifest

    clip = await _exported_clip(gateway, owner, requester, tmp_path)
    _flip_a_byte_of_the_media(clip)
    manifest_path = clip.with_name(clip.name + ".manifest.json")
    forged = {k: v for k, v in json.loads(manifest_path.read_text()).items()
              if k not in ("signature", "key_id", "public_key")}
    forged["sha256"] = file_sha256(clip)
    manifest_path.write_bytes(canonical_json(sign_manifest(forged, generate_signing_key())))
    result = verify_export(clip)
    assert not result.ok and "C2PA" in result.reason
    assert result.c2pa is not None and result.c2pa.state == "Invalid"


@needs_c2pa
async def test_a_masked_clip_records_the_edit_in_its_c2pa_actions(
        gateway: Gateway, owner: OwnerClient, requester: Requester, tmp_path: Path) -> None:
    clip = await _exported_clip(gateway, owner, requester, tmp_path, masks={"porch": [MASK]})
    check = verify_export(clip).c2pa
    assert check is not None and check.state == "Trusted"
    assert check.actions == ("c2pa.created", "c2pa.edited", "c2pa.published")


async def test_with_c2pa_off_an_export_works_and_carries_the_camsdk_manifest_only(
        tmp_path: Path) -> None:
    gateway = await started(site_config(tmp_path, exports={"c2pa": False}))
    try:
        owner = await _owner_of(gateway)
        requester = Requester(gateway, "Insurer")
        try:
            async with requester.client:
                clip = await _exported_clip(gateway, owner, requester, tmp_path)
        finally:
            await owner.client.aclose()
    finally:
        await gateway.aclose()
    result = verify_export(clip, public_key=gateway.key.public_key())
    assert result.ok, result.reason
    assert "c2pa" not in result.manifest
    if c2pa_available():
        assert result.c2pa is not None and result.c2pa.state == "absent"


async def _owner_of(gateway: Gateway) -> OwnerClient:
    import httpx

    from camsdk.serve import create_app

    from ._helpers import BASE, login

    transport = httpx.ASGITransport(app=create_app(gateway), client=("127.0.0.1", 40000))
    client = httpx.AsyncClient(transport=transport, base_url=BASE)
    answer = await login(client)
    assert answer.status_code == 200
    return OwnerClient(client, answer.json()["csrf"])


async def test_c2pa_auto_without_the_library_leaves_exports_unsigned_by_c2pa(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gateway_module, "c2pa_available", lambda: False)
    gateway = await started(site_config(tmp_path))
    try:
        assert gateway.c2pa_signing is None
    finally:
        await gateway.aclose()
    assert not (tmp_path / "data" / CHAIN_FILE).exists()


async def test_c2pa_true_without_the_library_is_refused_at_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gateway_module, "c2pa_available", lambda: False)
    with pytest.raises(ConfigurationError, match=r"camsdk\[c2pa\]"):
        await Gateway(site_config(tmp_path, exports={"c2pa": True})).start()


def test_the_owner_certificates_are_kept_renewed_near_their_end_and_remade_for_another_key(
        tmp_path: Path) -> None:
    key = generate_signing_key()
    first = owner_certificates(key, tmp_path)
    assert owner_certificates(key, tmp_path).chain == first.chain
    certs = x509.load_pem_x509_certificates(first.chain.encode())
    assert [c.subject == c.issuer for c in certs] == [False, True]  # signer, self-signed root
    assert (tmp_path / CHAIN_FILE).stat().st_mode & 0o777 == 0o600
    near_the_end = certs[0].not_valid_after_utc - timedelta(days=1)
    renewed = owner_certificates(key, tmp_path, now=near_the_end)
    assert renewed.chain != first.chain
    assert owner_certificates(generate_signing_key(), tmp_path).chain != renewed.chain


def _es256_chain(folder: Path) -> tuple[Path, Path]:
    now = datetime.now(UTC)
    root_key, signer_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    def usage(sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(sign, False, False, False, False, not sign, not sign, False, False)

    root = (x509.CertificateBuilder().subject_name(name("site CA")).issuer_name(name("site CA"))
            .public_key(root_key.public_key()).serial_number(1)
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=9))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage(False), critical=True).sign(root_key, hashes.SHA256()))
    signer = (x509.CertificateBuilder().subject_name(name("site signer"))
              .issuer_name(name("site CA")).public_key(signer_key.public_key()).serial_number(2)
              .not_valid_before(now - timedelta(hours=1))
              .not_valid_after(now + timedelta(days=9))
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(usage(True), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                             critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                  root_key.public_key()), critical=False)
              .sign(root_key, hashes.SHA256()))
    chain, key = folder / "chain.pem", folder / "signer.key"
    chain.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM)
                               for c in (signer, root)))
    key.write_bytes(signer_key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    return chain, key


@needs_c2pa
def test_configured_es256_certificates_sign_the_manifest(tmp_path: Path) -> None:
    chain, key = _es256_chain(tmp_path)
    signing = signing_from_files(chain, key)
    clip = _small_clip(tmp_path / "clip.mp4")
    embed_manifest(clip, {"grant_id": "g1"}, signing)
    check = check_clip(clip, signing.trust_anchor)
    assert (check.state, check.signer, check.assertion) == ("Trusted", "site signer",
                                                            {"grant_id": "g1"})


def test_a_c2pa_key_that_is_not_the_certificates_is_refused(tmp_path: Path) -> None:
    chain, _ = _es256_chain(tmp_path)
    save_private_key(generate_signing_key(), tmp_path / "other.key")
    with pytest.raises(ConfigurationError, match="not the key"):
        signing_from_files(chain, tmp_path / "other.key")
