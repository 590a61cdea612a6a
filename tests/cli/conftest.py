"""The command-line tools as people run them: the installed ``maskinporten-operator`` entry point
in a subprocess, against the strict Maskinporten stand-in on a thread."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import rsa

from maskinporten_operator.credentials.keys import ClientKey
from maskinporten_operator.credentials.pem import load_pem
from maskinporten_testbed.standin import Client, MaskinportenStandin, RegisteredKey, StandinThread
from maskinporten_testbed.testca import BusinessCertificate, CertificateAuthority

from .helpers import (
    CERT_CLIENT,
    KID,
    KID_CLIENT,
    ORG,
    OTHER_ORG,
    OTHER_RESOURCE,
    PASSWORD,
    RESOURCE,
    SCOPE,
    Files,
)


@pytest.fixture(scope="session")
def registered_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def client_key(registered_key: rsa.RSAPrivateKey) -> ClientKey:
    pem = registered_key.private_bytes(
        ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()
    )
    return load_pem(pem, source="test key", now=datetime.now(UTC), key_id=KID)


@pytest.fixture(scope="session")
def standin(ca: CertificateAuthority, client_key: ClientKey) -> Iterator[StandinThread]:
    server = MaskinportenStandin(trusted_cas=[ca.root])  # 120 s tokens, Maskinporten's default
    delegations = {OTHER_ORG: frozenset({SCOPE})}
    resources = frozenset({RESOURCE, OTHER_RESOURCE})
    with StandinThread(server) as thread:
        thread.register_client(
            Client(
                client_id=KID_CLIENT,
                org=ORG,
                scopes=frozenset({SCOPE}),
                keys=(RegisteredKey(client_key.public_jwk()),),
                resources=resources,
                delegations=delegations,
            )
        )
        thread.register_client(
            Client(
                client_id=CERT_CLIENT,
                org=ORG,
                scopes=frozenset({SCOPE}),
                resources=resources,
                delegations=delegations,
            )
        )
        yield thread


@pytest.fixture(autouse=True)
def _fresh_request_log(standin: StandinThread) -> None:
    standin.clear_requests()


@pytest.fixture(scope="session")
def files(
    tmp_path_factory: pytest.TempPathFactory,
    client_key: ClientKey,
    registered_key: rsa.RSAPrivateKey,
    business_certificate: BusinessCertificate,
) -> Files:
    directory = tmp_path_factory.mktemp("credentials")

    def write(name: str, data: bytes | str) -> Path:
        path = directory / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def pem(fmt: ser.PrivateFormat, encryption: ser.KeySerializationEncryption) -> bytes:
        return registered_key.private_bytes(ser.Encoding.PEM, fmt, encryption)

    return Files(
        jwk=write("key.json", client_key.private_jwk_json()),
        pkcs1=write("pkcs1.pem", pem(ser.PrivateFormat.TraditionalOpenSSL, ser.NoEncryption())),
        pkcs8=write("pkcs8.pem", pem(ser.PrivateFormat.PKCS8, ser.NoEncryption())),
        encrypted=write(
            "encrypted.pem",
            pem(ser.PrivateFormat.PKCS8, ser.BestAvailableEncryption(PASSWORD.encode())),
        ),
        password=write("password.txt", PASSWORD + "\n"),
        p12=write("virksomhet.p12", business_certificate.pkcs12(PASSWORD.encode())),
        certificate_key=write("virksomhet.key", business_certificate.private_key_pem()),
        certificate_chain=write("virksomhet.crt", business_certificate.chain_pem()),
    )
