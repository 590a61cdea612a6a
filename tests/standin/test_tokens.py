"""Grants that follow every rule get a signed access token."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
from joserfc.jwk import KeySet

from maskinporten_testbed.standin import MaskinportenStandin
from maskinporten_testbed.testca import BusinessCertificate
from tests.helpers import decode_jwt

from .helpers import (
    CERT_CLIENT_ID,
    CLIENT_ID,
    LONG_SCOPE,
    ORG,
    OTHER_ORG,
    RESOURCE,
    SCOPE,
    SYSTEMUSER,
    Grants,
    post_grant,
)


async def _token_claims(
    http: httpx.AsyncClient, standin: MaskinportenStandin, response: httpx.Response
) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    keys = KeySet.import_key_set((await http.get(standin.jwks_uri)).json())
    return decode_jwt(response.json()["access_token"], keys).claims


async def test_kid_grant_gets_a_bearer_token_that_verifies_against_the_published_jwks(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid())

    claims = await _token_claims(http, standin, response)
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == SCOPE
    assert body["expires_in"] == 600
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert claims["iss"] == standin.issuer
    assert claims["client_id"] == CLIENT_ID
    assert claims["scope"] == SCOPE
    assert claims["exp"] - claims["iat"] == 600
    assert claims["consumer"] == {"authority": "iso6523-actorid-upis", "ID": f"0192:{ORG}"}
    assert "aud" not in claims


async def test_x5c_grant_with_a_trusted_business_certificate_gets_a_token(
    standin: MaskinportenStandin,
    http: httpx.AsyncClient,
    grants: Grants,
    business_certificate: BusinessCertificate,
) -> None:
    response = await post_grant(http, standin, grants.x5c(business_certificate))

    claims = await _token_claims(http, standin, response)
    assert claims["client_id"] == CERT_CLIENT_ID
    assert claims["client_amr"] == "virksomhetssertifikat"
    assert claims["consumer"]["ID"] == f"0192:{ORG}"


async def test_x5c_grant_signed_with_rs512_is_accepted(
    standin: MaskinportenStandin,
    http: httpx.AsyncClient,
    grants: Grants,
    business_certificate: BusinessCertificate,
) -> None:
    response = await post_grant(http, standin, grants.x5c(business_certificate, alg="RS512"))

    assert response.status_code == 200, response.text


async def test_expires_in_is_the_lowest_lifetime_of_the_requested_scopes(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(scope=f"{LONG_SCOPE} {SCOPE}"))

    assert response.status_code == 200, response.text
    assert response.json()["expires_in"] == 600
    assert response.json()["scope"] == f"{LONG_SCOPE} {SCOPE}"


async def test_scope_without_configured_lifetime_gets_the_default_lifetime(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    standin.registry.lifetimes.clear()

    response = await post_grant(http, standin, grants.kid())

    assert response.json()["expires_in"] == 120


def _with_client_lifetime(standin: MaskinportenStandin, seconds: int) -> None:
    client = standin.registry.latest(CLIENT_ID)
    assert client is not None
    standin.register_client(replace(client, access_token_lifetime=seconds))


async def test_a_client_with_a_lifetime_gets_it_when_the_scopes_cap_is_longer(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    _with_client_lifetime(standin, 1800)

    response = await post_grant(http, standin, grants.kid(scope=LONG_SCOPE))

    assert response.json()["expires_in"] == 1800


async def test_a_scopes_cap_keeps_a_clients_longer_lifetime_shorter(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    _with_client_lifetime(standin, 1800)

    response = await post_grant(http, standin, grants.kid(scope=f"{LONG_SCOPE} {SCOPE}"))

    assert response.json()["expires_in"] == 600


async def test_a_client_with_a_lifetime_gets_it_for_a_scope_without_a_cap(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    standin.registry.lifetimes.clear()
    _with_client_lifetime(standin, 1800)

    response = await post_grant(http, standin, grants.kid())

    assert response.json()["expires_in"] == 1800


async def test_resource_becomes_the_token_audience(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(resource=[RESOURCE]))

    assert (await _token_claims(http, standin, response))["aud"] == RESOURCE


async def test_resource_given_as_a_string_is_refused_only_arrays_are_supported(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(resource=RESOURCE))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"
    assert "array" in response.json()["error_description"]


async def test_delegated_consumer_org_makes_the_token_name_consumer_and_supplier(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(consumer_org=OTHER_ORG))

    claims = await _token_claims(http, standin, response)
    assert claims["consumer"]["ID"] == f"0192:{OTHER_ORG}"
    assert claims["supplier"]["ID"] == f"0192:{ORG}"


async def test_systemuser_authorization_details_are_accepted_and_echoed(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(authorization_details=SYSTEMUSER))

    assert (await _token_claims(http, standin, response))["authorization_details"] == SYSTEMUSER


async def test_each_token_has_a_fresh_jti(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    first = await _token_claims(http, standin, await post_grant(http, standin, grants.kid()))
    second = await _token_claims(http, standin, await post_grant(http, standin, grants.kid()))

    assert first["jti"] != second["jti"]


async def test_iss_onbehalfof_alone_is_accepted(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(iss_onbehalfof="an-onbehalfof-id"))

    assert response.status_code == 200, response.text
