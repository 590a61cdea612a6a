"""An issuer over https whose certificate comes from a private CA: trusted through the CA bundle
(MASKINPORTEN_OPERATOR_CA_BUNDLE), in addition to the public CAs, and refused without it.

The issuer is a small aiohttp server on a loopback port with a certificate for 127.0.0.1 from a
CA made for the test.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from maskinporten_operator.oauth.authserver import (
    AuthorizationServerClient,
    TokenRequestError,
    ca_bundle_ssl_context,
)

CA_NAME = "Private Test CA"


@dataclass(frozen=True)
class PrivateCa:
    bundle: Path
    server_context: ssl.SSLContext


def _certificate(
    subject: str,
    issuer: str,
    public_key: ec.EllipticCurvePublicKey,
    signer: ec.EllipticCurvePrivateKey,
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> PrivateCa:
    directory = tmp_path_factory.mktemp("private-ca")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        _certificate(CA_NAME, CA_NAME, ca_key.public_key(), ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        _certificate("127.0.0.1", CA_NAME, server_key.public_key(), ca_key)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    bundle = directory / "ca.pem"
    bundle.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file, key_file = directory / "server.crt", directory / "server.key"
    cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    return PrivateCa(bundle=bundle, server_context=server_context)


@pytest.fixture
async def https_issuer(private_ca: PrivateCa) -> AsyncIterator[str]:
    """The issuer URL of a server answering only its metadata document, over https."""
    issuer = ""

    async def metadata(_: web.Request) -> web.Response:
        return web.json_response({"issuer": issuer, "token_endpoint": issuer + "token"})

    app = web.Application()
    app.router.add_get("/.well-known/oauth-authorization-server", metadata)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=private_ca.server_context)
    await site.start()
    issuer = f"https://127.0.0.1:{site.port}/"
    yield issuer
    await runner.cleanup()


async def test_issuer_with_a_private_ca_is_reached_with_the_ca_bundle(
    private_ca: PrivateCa, https_issuer: str
) -> None:
    client = AuthorizationServerClient(timeout_seconds=5, ca_bundle=str(private_ca.bundle))
    try:
        metadata = await client.metadata(https_issuer)
    finally:
        await client.aclose()

    assert metadata.token_endpoint == https_issuer + "token"


async def test_issuer_with_a_private_ca_is_unreachable_without_the_ca_bundle(
    https_issuer: str,
) -> None:
    client = AuthorizationServerClient(timeout_seconds=5)
    try:
        with pytest.raises(TokenRequestError) as caught:
            await client.metadata(https_issuer)
    finally:
        await client.aclose()

    assert caught.value.reason == "ServerUnreachable"
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)


def test_ca_bundle_is_trusted_in_addition_to_the_public_cas(private_ca: PrivateCa) -> None:
    context = ca_bundle_ssl_context(str(private_ca.bundle))

    subjects = [
        dict(pair for rdn in cert["subject"] for pair in rdn) for cert in context.get_ca_certs()
    ]

    assert {"commonName": CA_NAME} in subjects
    assert len(subjects) > 1
