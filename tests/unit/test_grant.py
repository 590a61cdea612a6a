"""The JWT grant the operator signs: exactly what Maskinporten documents, nothing more."""

from __future__ import annotations

from dataclasses import replace

import pytest
from joserfc.errors import BadSignatureError

from maskinporten_operator.credentials.keys import ClientKey, generate_client_key
from maskinporten_operator.oauth.grant import (
    GrantClaims,
    consent_detail,
    grant_claims,
    sign_grant,
    systemuser_detail,
)
from tests.helpers import decode_jwt

NOW = 1_800_000_000
TEST_ISSUER = "https://test.maskinporten.no/"
CLAIMS = GrantClaims(
    client_id="0b5b5d8c-5f1a-4a7e-9d8a-1f2e3d4c5b6a",
    audience=TEST_ISSUER,
    scopes=("digdir:dialogporten", "altinn:serviceowner/instances.read"),
)
DOCUMENTED = {"aud", "iss", "scope", "iat", "exp", "jti"}


def test_header_has_alg_rs256_typ_jwt_and_the_key_id(client_key: ClientKey) -> None:
    header = decode_jwt(sign_grant(CLAIMS, client_key, now=NOW), client_key.public_pem()).header

    assert header == {"alg": "RS256", "typ": "JWT", "kid": client_key.kid}


def test_header_never_carries_x5c(client_key: ClientKey) -> None:
    header = decode_jwt(sign_grant(CLAIMS, client_key, now=NOW), client_key.public_pem()).header

    assert "x5c" not in header


def test_claims_are_exactly_the_documented_ones(client_key: ClientKey) -> None:
    claims = decode_jwt(sign_grant(CLAIMS, client_key, now=NOW), client_key.public_pem()).claims

    assert set(claims) == DOCUMENTED


def test_claims_carry_audience_client_id_and_time(client_key: ClientKey) -> None:
    grant = sign_grant(CLAIMS, client_key, now=NOW, jti="jti-1")

    claims = decode_jwt(grant, client_key.public_pem()).claims

    assert claims["aud"] == TEST_ISSUER
    assert claims["iss"] == CLAIMS.client_id
    assert claims["iat"] == NOW
    assert claims["jti"] == "jti-1"


def test_audience_is_a_single_string() -> None:
    assert isinstance(grant_claims(CLAIMS, now=NOW, jti="x")["aud"], str)


def test_grant_expires_within_120_seconds_of_issue() -> None:
    claims = grant_claims(CLAIMS, now=NOW, jti="x")

    assert 0 < claims["exp"] - claims["iat"] <= 120


def test_scopes_are_space_separated_in_one_claim() -> None:
    claims = grant_claims(CLAIMS, now=NOW, jti="x")

    assert claims["scope"] == "digdir:dialogporten altinn:serviceowner/instances.read"


def test_resource_is_added_only_when_given() -> None:
    with_resource = replace(CLAIMS, resource="https://api.example.no/")

    assert "resource" not in grant_claims(CLAIMS, now=NOW, jti="x")
    assert grant_claims(with_resource, now=NOW, jti="x")["resource"] == ["https://api.example.no/"]


def test_consumer_org_is_added_only_when_given() -> None:
    for_org = replace(CLAIMS, consumer_org="987654321")

    assert "consumer_org" not in grant_claims(CLAIMS, now=NOW, jti="x")
    assert grant_claims(for_org, now=NOW, jti="x")["consumer_org"] == "987654321"


def test_claims_with_resource_and_consumer_org_hold_nothing_else() -> None:
    full = replace(CLAIMS, resource="https://api.example.no/", consumer_org="987654321")

    assert set(grant_claims(full, now=NOW, jti="x")) == DOCUMENTED | {"resource", "consumer_org"}


def test_two_signings_get_different_jti(client_key: ClientKey) -> None:
    first = decode_jwt(sign_grant(CLAIMS, client_key, now=NOW), client_key.public_pem()).claims
    second = decode_jwt(sign_grant(CLAIMS, client_key, now=NOW), client_key.public_pem()).claims

    assert first["jti"] != second["jti"]


def test_signature_verifies_with_the_public_key(client_key: ClientKey) -> None:
    assertion = sign_grant(CLAIMS, client_key, now=NOW)

    token = decode_jwt(assertion, client_key.public_pem())

    assert token.claims["iss"] == CLAIMS.client_id


def test_signature_does_not_verify_with_another_key(client_key: ClientKey) -> None:
    assertion = sign_grant(CLAIMS, client_key, now=NOW)
    other = generate_client_key().public_pem()

    with pytest.raises(BadSignatureError):
        decode_jwt(assertion, other)


def test_fingerprint_changes_when_what_is_asked_for_changes() -> None:
    other_scopes = replace(CLAIMS, scopes=("digdir:dialogporten",))
    other_org = replace(CLAIMS, consumer_org="987654321")
    other_client = replace(CLAIMS, client_id="another-client")

    fields = {c.fingerprint_fields() for c in (CLAIMS, other_scopes, other_org, other_client)}

    assert len(fields) == 4


def test_a_consent_follows_the_system_user_shorthand_in_wire_form() -> None:
    consent = consent_detail("0a7d59f8", "urn:altinn:person:identifier-no:05848998356")
    claims = replace(CLAIMS, system_user_org="987654321", authorization_details=(consent,))

    assert grant_claims(claims, now=NOW, jti="x")["authorization_details"] == [
        {
            "type": "urn:altinn:systemuser",
            "systemuser_org": {"authority": "iso6523-actorid-upis", "ID": "0192:987654321"},
        },
        {
            "type": "urn:altinn:consent",
            "id": "0a7d59f8",
            "from": "urn:altinn:person:identifier-no:05848998356",
        },
    ]


def test_a_system_user_detail_carries_its_external_ref() -> None:
    detail = systemuser_detail("912345678", "customer-2")
    claims = replace(CLAIMS, authorization_details=(detail,))

    assert grant_claims(claims, now=NOW, jti="x")["authorization_details"] == [
        {
            "type": "urn:altinn:systemuser",
            "systemuser_org": {"authority": "iso6523-actorid-upis", "ID": "0192:912345678"},
            "externalRef": "customer-2",
        }
    ]


def test_authorization_details_change_the_fingerprint_only_when_given() -> None:
    consent = consent_detail("0a7d59f8", "urn:altinn:person:identifier-no:05848998356")

    with_consent = replace(CLAIMS, authorization_details=(consent,))

    assert len(with_consent.fingerprint_fields()) == len(CLAIMS.fingerprint_fields()) + 1
