"""The worker, the CLI and the codec server reach Temporal as every Temporal tool does (temporalio.envconfig): here
through a TLS-terminating relay in front of the test server that demands a client certificate, as a cluster behind
mTLS does, set by the standard TEMPORAL_* variables; without the certificate the endpoint refuses the connection."""

from __future__ import annotations

import ipaddress
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from infra.config import Settings
from infra.temporal import connect
from tests.relay import relay


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key, issuer: str, issuer_key, *, ca: bool = False, server: bool = False):
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, certificate, key=None) -> None:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        key_path = path.with_suffix(".key")
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


@pytest.fixture
def certificates(tmp_path) -> Path:
    """A CA, the endpoint's certificate, and a client certificate the CA signed."""
    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _certificate("collections test CA", ca_key, "collections test CA", ca_key, ca=True)
    _write(tmp_path / "ca.pem", ca)
    _write(
        tmp_path / "server.pem",
        _certificate("localhost", server_key, ca.subject.rfc4514_string()[3:], ca_key, server=True),
        server_key,
    )
    _write(
        tmp_path / "client.pem", _certificate("worker", client_key, ca.subject.rfc4514_string()[3:], ca_key), client_key
    )
    return tmp_path


def mtls_context(certificates: Path) -> ssl.SSLContext:
    """A cluster's mTLS endpoint: only clients whose certificate the CA signed get in."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates / "server.pem", certificates / "server.key")
    context.load_verify_locations(certificates / "ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])  # gRPC
    return context


async def test_a_worker_reaches_an_mtls_endpoint_with_the_standard_variables_and_is_refused_without_its_certificate(
    env, certificates, monkeypatch, tmp_path
):
    async with relay(env.client.service_client.config.target_host, mtls_context(certificates)) as endpoint:
        address = endpoint.address
        monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "no-such-profile-file.toml"))
        monkeypatch.setenv("TEMPORAL_ADDRESS", address)
        monkeypatch.setenv("TEMPORAL_NAMESPACE", "default")
        monkeypatch.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(certificates / "ca.pem"))
        monkeypatch.setenv("TEMPORAL_TLS_SERVER_NAME", "localhost")
        with pytest.raises(RuntimeError, match="connect"):
            await connect(Settings.from_env())

        monkeypatch.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(certificates / "client.pem"))
        monkeypatch.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(certificates / "client.key"))
        settings = Settings.from_env()
        assert (settings.temporal_address, settings.temporal_namespace) == (address, "default")
        client = await connect(settings)
        handle = client.get_workflow_handle("account-NOBODY")
        with pytest.raises(Exception, match="not found"):  # an answer from the server itself, through the TLS
            await handle.describe()


def test_a_profile_file_sets_the_address_the_namespace_and_an_api_key(tmp_path, monkeypatch):
    profiles = tmp_path / "temporal.toml"
    profiles.write_text(
        '[profile.default]\naddress = "localhost:7233"\n\n'
        '[profile.cloud]\naddress = "collections.a1b2c.tmprl.cloud:7233"\nnamespace = "collections.a1b2c"\n'
        'api_key = "key-from-the-profile"\n'
    )
    for name in ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(profiles))
    monkeypatch.setenv("TEMPORAL_PROFILE", "cloud")
    settings = Settings.from_env()
    assert (settings.temporal_address, settings.temporal_namespace) == (
        "collections.a1b2c.tmprl.cloud:7233",
        "collections.a1b2c",
    )
    # An API key turns TLS on, as Temporal Cloud requires.
    assert settings.temporal_connection["api_key"] == "key-from-the-profile"
    assert settings.temporal_connection["tls"] is True
    monkeypatch.setenv("TEMPORAL_PROFILE", "staging")
    with pytest.raises(ValueError, match="TEMPORAL_PROFILE"):
        Settings.from_env()
