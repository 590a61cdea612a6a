"""Keycloak and oidc-provider (maskinporten_testbed.authservers), each started once for the
tests that use it, with the same two clients: one registered with a key under its ``kid``, one
with a business certificate's key (its JWK carries the chain as ``x5c``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from maskinporten_operator.credentials.keys import ClientKey, generate_client_key
from maskinporten_operator.credentials.pem import load_pem
from maskinporten_testbed.authservers import RegisteredClient, keycloak, oidcprovider
from maskinporten_testbed.testca import BusinessCertificate

SCOPES = ("weather.read", "api1")
"""Named as Keycloak's and oidc-provider's users name them (no Maskinporten prefix:name)."""
CLIENT_ID = "interop-client"
CERTIFICATE_CLIENT_ID = "interop-certificate-client"

Starter = Callable[[Path, tuple[str, ...], list[RegisteredClient]], AbstractContextManager[str]]
SERVERS: dict[str, Starter] = {
    "keycloak": keycloak.keycloak,
    "oidc-provider": oidcprovider.oidc_provider,
}


@dataclass(frozen=True)
class Server:
    name: str
    issuer: str


@pytest.fixture(scope="session")
def client_key() -> ClientKey:
    return generate_client_key()


@pytest.fixture(scope="session")
def certificate_key(business_certificate: BusinessCertificate) -> ClientKey:
    return load_pem(
        business_certificate.private_key_pem(),
        source="business certificate",
        now=datetime.now(UTC),
        chain=business_certificate.chain_pem(),
    )


@pytest.fixture(scope="session", params=sorted(SERVERS))
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    client_key: ClientKey,
    certificate_key: ClientKey,
) -> Iterator[Server]:
    certificate_jwk = {
        **certificate_key.public_jwk(),
        "x5c": list(certificate_key.certificate_chain),
    }
    clients = [
        RegisteredClient(CLIENT_ID, {"keys": [client_key.public_jwk()]}),
        RegisteredClient(CERTIFICATE_CLIENT_ID, {"keys": [certificate_jwk]}),
    ]
    name: str = request.param
    with SERVERS[name](tmp_path_factory.mktemp(name), SCOPES, clients) as issuer:
        yield Server(name, issuer)


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory, client_key: ClientKey) -> Path:
    path = tmp_path_factory.mktemp("interop-keys") / "client.json"
    path.write_text(client_key.private_jwk_json())
    return path
