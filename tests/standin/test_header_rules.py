"""The grant's JOSE header, its key and its signature."""

from __future__ import annotations

import httpx
from joserfc.jwk import OctKey, RSAKey

from maskinporten_testbed.standin import Client, MaskinportenStandin, RegisteredKey
from maskinporten_testbed.testca import BusinessCertificate

from .helpers import (
    CLIENT_ID,
    KID,
    ORG,
    SCOPE,
    Grants,
    assert_rejected,
    new_client_key,
    post_grant,
    sign,
    without_alg,
)


async def test_hmac_signed_grant_is_rejected_with_mp_100(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    key = OctKey.import_key("a-shared-secret-that-is-long-enough-for-hs256")
    assertion = sign({"alg": "HS256", "kid": KID}, grants.claims(), key)

    response = await post_grant(http, standin, assertion)

    assert_rejected(response, "invalid_grant", "MP-100")


async def test_ps256_signed_grant_is_rejected_with_mp_100(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants, client_key: RSAKey
) -> None:
    assertion = sign({"alg": "PS256", "kid": KID}, grants.claims(), without_alg(client_key))

    response = await post_grant(http, standin, assertion)

    assert_rejected(response, "invalid_grant", "MP-100")


async def test_grant_with_neither_kid_nor_x5c_is_rejected_with_mp_100(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants, client_key: RSAKey
) -> None:
    assertion = sign({"alg": "RS256"}, grants.claims(), client_key)

    response = await post_grant(http, standin, assertion)

    assert_rejected(response, "invalid_grant", "MP-100")


async def test_grant_with_both_kid_and_x5c_is_rejected_with_mp_100(
    standin: MaskinportenStandin,
    http: httpx.AsyncClient,
    grants: Grants,
    business_certificate: BusinessCertificate,
) -> None:
    key = RSAKey.import_key(business_certificate.private_key_pem())
    header = {"alg": "RS256", "kid": KID, "x5c": business_certificate.x5c()}

    response = await post_grant(http, standin, sign(header, grants.claims(), key))

    assert_rejected(response, "invalid_grant", "MP-100")


async def test_grant_with_unregistered_kid_is_rejected_with_mp_100(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants, client_key: RSAKey
) -> None:
    assertion = sign({"alg": "RS256", "kid": "not-registered"}, grants.claims(), client_key)

    response = await post_grant(http, standin, assertion)

    assert_rejected(response, "invalid_grant", "MP-100")


async def test_grant_signed_with_an_expired_key_is_rejected_with_mp_121(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants, client_key: RSAKey
) -> None:
    expired = RegisteredKey(client_key.as_dict(private=False), expires_at=standin.clock.now() - 1)
    standin.register_client(Client(CLIENT_ID, ORG, frozenset({SCOPE}), keys=(expired,)))

    response = await post_grant(http, standin, grants.kid())

    assert_rejected(response, "invalid_grant", "MP-121")


async def test_client_with_registered_keys_sending_x5c_is_rejected_with_mp_100(
    standin: MaskinportenStandin,
    http: httpx.AsyncClient,
    grants: Grants,
    business_certificate: BusinessCertificate,
) -> None:
    response = await post_grant(http, standin, grants.x5c(business_certificate, iss=CLIENT_ID))

    assert_rejected(response, "invalid_grant", "MP-100")


async def test_grant_signed_by_another_key_than_its_kid_is_rejected_with_mp_124(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    assertion = sign({"alg": "RS256", "kid": KID}, grants.claims(), new_client_key())

    response = await post_grant(http, standin, assertion)

    assert_rejected(response, "invalid_grant", "MP-124")


async def test_kid_grant_signed_rs512_with_an_rs256_registered_key_is_rejected_with_mp_124(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants, client_key: RSAKey
) -> None:
    assertion = sign({"alg": "RS512", "kid": KID}, grants.claims(), without_alg(client_key))

    response = await post_grant(http, standin, assertion)

    assert_rejected(response, "invalid_grant", "MP-124")


async def test_grant_with_tampered_claims_is_rejected_with_mp_124(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    header, _, signature = grants.kid().split(".")
    _, payload, _ = grants.kid(scope="test:long").split(".")

    response = await post_grant(http, standin, f"{header}.{payload}.{signature}")

    assert_rejected(response, "invalid_grant", "MP-124")
