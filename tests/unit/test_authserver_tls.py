"""An issuer over https whose certificate comes from a private CA: trusted through the CA bundle
(MASKINPORTEN_OPERATOR_CA_BUNDLE), in addition to the public CAs, and refused without it.

The issuer is the test bed's small https server on a loopback port, with a certificate for
127.0.0.1 from the tests' CA.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from maskinporten_operator.oauth.authserver import AuthorizationServerClient, ca_bundle_ssl_context
from maskinporten_operator.oauth.server_model import TokenRequestError
from maskinporten_testbed.httpsissuer import HttpsIssuer
from maskinporten_testbed.testca import CertificateAuthority


@pytest.fixture(scope="module")
def ca_bundle(ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle = tmp_path_factory.mktemp("private-ca") / "ca.pem"
    bundle.write_bytes(ca.root_pem())
    return bundle


@pytest.fixture
async def https_issuer(ca: CertificateAuthority) -> AsyncIterator[str]:
    async with HttpsIssuer(ca) as server:
        yield server.issuer


async def test_issuer_with_a_private_ca_is_reached_with_the_ca_bundle(
    ca_bundle: Path, https_issuer: str
) -> None:
    client = AuthorizationServerClient(timeout_seconds=5, ca_bundle=str(ca_bundle))
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


def test_ca_bundle_is_trusted_in_addition_to_the_public_cas(
    ca: CertificateAuthority, ca_bundle: Path
) -> None:
    context = ca_bundle_ssl_context(str(ca_bundle))

    subjects = [
        dict(pair for rdn in cert["subject"] for pair in rdn) for cert in context.get_ca_certs()
    ]

    assert {"commonName": ca.root.subject.rfc4514_string().removeprefix("CN=")} in subjects
    assert len(subjects) > 1
