"""The self-service stand-in on the Maskinporten stand-in's thread, driven synchronously."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from maskinporten_testbed.selfservice import (
    ADMIN_SCOPES,
    AdminClient,
    SelfServiceThread,
    provision_admin_client,
)
from maskinporten_testbed.standin import StandinThread
from maskinporten_testbed.testca import BusinessCertificate, CertificateAuthority

from .helpers import GRANT_TYPE, ORG, SCOPE, client_model, public_jwk


@pytest.fixture
def threads(
    ca: CertificateAuthority, business_certificate: BusinessCertificate
) -> Iterator[tuple[StandinThread, SelfServiceThread, AdminClient]]:
    with StandinThread() as standin, SelfServiceThread(standin) as selfservice:
        selfservice.grant_scope_access(ORG, SCOPE)
        admin = provision_admin_client(standin, ca, ORG, certificate=business_certificate)
        yield standin, selfservice, admin


def _token(
    standin: StandinThread, client_id: str, header: dict[str, object], key: RSAKey, scope: str
) -> httpx.Response:
    now = int(standin.now())
    claims = {
        "aud": standin.issuer,
        "iss": client_id,
        "scope": scope,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    grant = jwt.encode({"alg": "RS256", **header}, claims, key)
    data = {"grant_type": GRANT_TYPE, "assertion": grant}
    return httpx.post(standin.token_endpoint, data=data, timeout=10)


def test_a_client_registered_from_another_thread_gets_tokens_with_its_key(
    threads: tuple[StandinThread, SelfServiceThread, AdminClient], keys: list[RSAKey]
) -> None:
    standin, selfservice, admin = threads
    certificate_key = RSAKey.import_key(admin.certificate.private_key_pem())
    admin_token = _token(
        standin,
        admin.client_id,
        {"x5c": admin.certificate.x5c()},
        certificate_key,
        " ".join(ADMIN_SCOPES),
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {admin_token}"}

    created = httpx.post(selfservice.base_url + "clients", json=client_model(), headers=bearer)
    client_id = created.json()["client_id"]
    jwks = {"keys": [public_jwk(keys[0], "threaded-1")]}
    posted = httpx.post(
        selfservice.base_url + f"clients/{client_id}/jwks", json=jwks, headers=bearer
    )
    token = _token(standin, client_id, {"kid": "threaded-1"}, keys[0], SCOPE)

    assert (created.status_code, posted.status_code, token.status_code) == (201, 200, 200)
    assert selfservice.request_count(ORG) == 2
    assert selfservice.client_document(client_id) == created.json()


def test_the_propagation_delay_is_set_through_the_handle(
    threads: tuple[StandinThread, SelfServiceThread, AdminClient],
) -> None:
    _, selfservice, _ = threads

    selfservice.set_propagation_delay(90)

    assert selfservice.call(lambda server: server.propagation_delay) == 90
