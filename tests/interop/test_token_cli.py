"""``token --client-credentials`` against Keycloak and oidc-provider, which verify the client
assertion's signature against the client's registered JWK Set, its ``aud`` and its ``jti``."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx

from maskinporten_operator.cli.common import EXIT_REFUSED
from maskinporten_operator.credentials.keys import ClientKey, generate_client_key
from maskinporten_operator.oauth.grant import CLIENT_ASSERTION_TYPE, sign_client_assertion
from maskinporten_testbed.testca import BusinessCertificate
from tests.cli.helpers import issued, run

from .conftest import CERTIFICATE_CLIENT_ID, CLIENT_ID, Server


def client_credentials(
    server: Server, *credential: str | Path, client_id: str = CLIENT_ID, issuer: str | None = None
) -> subprocess.CompletedProcess[str]:
    return run(
        "token", "--client-credentials", *credential, "--client-id", client_id,
        "--issuer", issuer or server.issuer, "--scope", "weather.read",
    )  # fmt: skip


def test_token_for_the_client_and_its_scope(server: Server, key_file: Path) -> None:
    claims = issued(client_credentials(server, "--jwk", key_file))

    assert (claims["iss"], claims["client_id"]) == (server.issuer, CLIENT_ID)
    assert "weather.read" in claims["scope"].split()


def test_audience_is_the_declared_issuer_however_the_issuer_is_spelled(
    server: Server, key_file: Path
) -> None:
    result = client_credentials(server, "--jwk", key_file, issuer=server.issuer + "/")

    assert issued(result)["client_id"] == CLIENT_ID


def test_grant_signed_by_another_key_under_its_own_kid_is_refused(
    server: Server, tmp_path: Path
) -> None:
    other = tmp_path / "other.json"
    other.write_text(generate_client_key().private_jwk_json())

    result = client_credentials(server, "--jwk", other)

    assert result.returncode == EXIT_REFUSED, result.stderr


def test_grant_signed_by_another_key_under_the_registered_kid_is_refused(
    server: Server, client_key: ClientKey, tmp_path: Path
) -> None:
    other = tmp_path / "other.json"
    other.write_text(generate_client_key().private_jwk_json())

    result = client_credentials(server, "--jwk", other, "--kid", client_key.kid)

    assert result.returncode == EXIT_REFUSED, result.stderr


def test_certificate_key_signing_with_x5c_gets_a_token(
    server: Server, business_certificate: BusinessCertificate, tmp_path: Path
) -> None:
    key, chain = tmp_path / "certificate.key", tmp_path / "certificate.crt"
    key.write_bytes(business_certificate.private_key_pem())
    chain.write_bytes(business_certificate.chain_pem())

    result = client_credentials(
        server, "--pem", key, "--cert", chain, "--x5c", client_id=CERTIFICATE_CLIENT_ID
    )

    assert issued(result)["client_id"] == CERTIFICATE_CLIENT_ID


def test_assertion_sent_twice_is_refused_the_second_time(
    server: Server, client_key: ClientKey
) -> None:
    """The product never reuses an assertion (each request signs a new ``jti``), so the same
    one is sent twice here."""
    metadata = httpx.get(f"{server.issuer}/.well-known/oauth-authorization-server").json()
    assertion = sign_client_assertion(
        CLIENT_ID, metadata["issuer"], client_key, now=int(time.time())
    )
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    first = httpx.post(metadata["token_endpoint"], data=form)
    assert first.status_code == 200, first.text

    second = httpx.post(metadata["token_endpoint"], data=form)

    assert (second.status_code, second.json()["error"]) in {
        (400, "invalid_client"),
        (401, "invalid_client"),
    }
