"""`copyvault serve` over TLS with a certificate and key from the flags or the settings: a client
that verifies against the certificate (generated here with `cryptography`) gets answers with HSTS;
a client that does not trust it, a plain-HTTP client, and a client offering only TLS 1.0 or 1.1
or a CBC-SHA1 suite get nothing (TLS 1.3, and TLS 1.2 with ECDHE and AES-GCM, work)."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from backend.db.migrate import upgrade
from tests.backend.platform.conftest import serve_process


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "copyvault test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.mark.parametrize("source", ["flags", "settings, two workers"])
def test_serve_tls__verifying_client__answers_with_hsts_untrusting_and_plain_clients_refused(
    platform_chain, tmp_path, source
):
    cert_file, key_file = _certificate(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    trusting = ssl.create_default_context(cafile=str(cert_file))
    if source == "flags":
        options = {"args": ("--tls-cert", str(cert_file), "--tls-key", str(key_file))}
    else:
        options = {
            "env": {
                "COPYVAULT_TLS_CERTFILE": str(cert_file),
                "COPYVAULT_TLS_KEYFILE": str(key_file),
            },
            "args": ("--workers", "2"),
        }
    with serve_process(
        platform_chain, url, tmp_path, scheme="https", verify=trusting, **options
    ) as base:
        assert base.startswith("https://")
        answer = httpx.get(f"{base}/v1/vaults", verify=trusting)
        assert answer.status_code == 200
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{base}/v1/health")  # the system's trust store does not know this one
        plain = base.replace("https://", "http://")
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{plain}/v1/health", timeout=5)
        port = int(base.rsplit(":", 1)[1])
        assert _handshake(cert_file, port, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
        assert _handshake(cert_file, port, ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-GCM-SHA256")
        for version, ciphers in (
            (ssl.TLSVersion.TLSv1, "DEFAULT:@SECLEVEL=0"),
            (ssl.TLSVersion.TLSv1_1, "DEFAULT:@SECLEVEL=0"),
            (ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0"),  # CBC with SHA-1
        ):
            with pytest.raises(ssl.SSLError) as refused:
                _handshake(cert_file, port, version, ciphers)
            assert "NO_PROTOCOLS_AVAILABLE" not in str(refused.value)  # offered, server refused
            assert "NO_CIPHERS_AVAILABLE" not in str(refused.value)


def _handshake(cert_file: Path, port: int, version: ssl.TLSVersion, ciphers: str = "") -> str:
    """A TLS handshake offering only `version` (and `ciphers`): the version agreed."""
    context = ssl.create_default_context(cafile=str(cert_file))
    context.minimum_version = context.maximum_version = version
    if ciphers:
        context.set_ciphers(ciphers)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return str(tls.version())
