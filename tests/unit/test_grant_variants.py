"""Grant variants: business-certificate (x5c) grants, several resources, Altinn system users,
and RFC 7523 client assertions for generic OAuth 2.0 servers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

import pytest

from maskinporten_operator.credentials.keys import ClientKey
from maskinporten_operator.credentials.pem import load_pem
from maskinporten_operator.oauth.grant import (
    GrantClaims,
    client_assertion_claims,
    grant_claims,
    sign_client_assertion,
    sign_grant,
)
from maskinporten_testbed.testca import BusinessCertificate
from tests import helpers
from tests.helpers import decode_jwt

NOW = 1_800_000_000
ISSUER = "https://test.maskinporten.no/"
CLIENT_ID = "0b5b5d8c-5f1a-4a7e-9d8a-1f2e3d4c5b6a"
CLAIMS = GrantClaims(client_id=CLIENT_ID, audience=ISSUER, scopes=("altinn:systembruker.demo",))
SYSTEM_USER_ORG = "310000001"


@pytest.fixture(scope="module")
def certificate_key(business_certificate: BusinessCertificate) -> ClientKey:
    data = business_certificate.private_key_pem() + business_certificate.chain_pem()
    return load_pem(data, source="test", now=helpers.NOW)


def claims(**fields: Any) -> dict[str, Any]:
    return grant_claims(replace(CLAIMS, **fields), now=NOW, jti="j")


# --- headers ------------------------------------------------------------------------------------


def test_certificate_grant_header_carries_x5c_and_no_kid(
    certificate_key: ClientKey, business_certificate: BusinessCertificate
) -> None:
    grant = sign_grant(CLAIMS, certificate_key, now=NOW)

    header = decode_jwt(grant, certificate_key.public_pem()).header

    assert header == {"alg": "RS256", "typ": "JWT", "x5c": business_certificate.x5c()}


def test_registered_key_grant_header_carries_kid_and_no_x5c(client_key: ClientKey) -> None:
    header = decode_jwt(sign_grant(CLAIMS, client_key, now=NOW), client_key.public_pem()).header

    assert "x5c" not in header
    assert header["kid"] == client_key.kid


# --- claims -------------------------------------------------------------------------------------


def test_one_resource_is_sent_as_an_array_the_only_form_maskinporten_documents() -> None:
    assert claims(resource="https://api.example.no/")["resource"] == ["https://api.example.no/"]


def test_several_resources_are_sent_as_an_array() -> None:
    resources = ["https://a.example.no/", "https://b.example.no/"]

    assert claims(resource=resources)["resource"] == resources


def test_resource_list_is_kept_as_a_tuple_so_claims_stay_hashable() -> None:
    grant = replace(CLAIMS, resource=["https://a.example.no/"])

    assert grant.resource == ("https://a.example.no/",)
    assert hash(grant)


def test_empty_resource_list_is_refused() -> None:
    with pytest.raises(ValueError, match="resource"):
        replace(CLAIMS, resource=[])


def test_system_user_is_sent_as_altinn_authorization_details() -> None:
    assert claims(system_user_org=SYSTEM_USER_ORG)["authorization_details"] == [
        {
            "type": "urn:altinn:systemuser",
            "systemuser_org": {
                "authority": "iso6523-actorid-upis",
                "ID": f"0192:{SYSTEM_USER_ORG}",
            },
        }
    ]


def test_claims_with_every_variant_hold_only_documented_claims() -> None:
    every = claims(resource=["https://a/"], consumer_org="987654321", system_user_org="310000001")

    assert set(every) == {
        "aud",
        "iss",
        "scope",
        "iat",
        "exp",
        "jti",
        "resource",
        "consumer_org",
        "authorization_details",
    }


@pytest.mark.parametrize("field", ["consumer_org", "system_user_org"])
def test_organisation_numbers_must_have_nine_digits(field: str) -> None:
    with pytest.raises(ValueError, match=f"{field} must be a 9-digit organisation number"):
        replace(CLAIMS, **cast(dict[str, Any], {field: "0192:310000001"}))


# --- fingerprints -------------------------------------------------------------------------------


def test_fingerprint_of_existing_fields_is_what_it_was() -> None:
    grant = replace(CLAIMS, resource="https://a/", consumer_org="987654321")

    assert grant.fingerprint_fields() == (
        CLIENT_ID,
        ISSUER,
        "altinn:systembruker.demo",
        "https://a/",
        "987654321",
    )


def test_fingerprint_changes_with_the_system_user() -> None:
    fields = replace(CLAIMS, system_user_org=SYSTEM_USER_ORG).fingerprint_fields()

    assert fields != CLAIMS.fingerprint_fields()


def test_fingerprint_changes_with_the_resource_list() -> None:
    one = replace(CLAIMS, resource=["https://a/"]).fingerprint_fields()
    two = replace(CLAIMS, resource=["https://a/", "https://b/"]).fingerprint_fields()

    assert one != two


# --- client assertions (RFC 7523 section 2.2) ---------------------------------------------------


def test_client_assertion_has_the_client_as_issuer_and_subject() -> None:
    assertion = client_assertion_claims(CLIENT_ID, "https://idp.example/", now=NOW, jti="j")

    assert assertion == {
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "aud": "https://idp.example/",
        "iat": NOW,
        "exp": NOW + 60,
        "jti": "j",
    }


def test_signed_client_assertion_verifies_and_names_the_key(client_key: ClientKey) -> None:
    assertion = sign_client_assertion(CLIENT_ID, "https://idp.example/", client_key, now=NOW)

    token = decode_jwt(assertion, client_key.public_pem())

    assert token.header["kid"] == client_key.kid
    assert token.claims["sub"] == CLIENT_ID


def test_two_client_assertions_get_different_jti(client_key: ClientKey) -> None:
    first = sign_client_assertion(CLIENT_ID, ISSUER, client_key, now=NOW)
    second = sign_client_assertion(CLIENT_ID, ISSUER, client_key, now=NOW)

    public = client_key.public_pem()
    assert decode_jwt(first, public).claims["jti"] != decode_jwt(second, public).claims["jti"]
