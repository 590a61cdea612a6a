"""x5c grants: the business certificate chain must be trusted, valid, for signing, and ours."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
from joserfc.jwk import RSAKey

from maskinporten_testbed.standin import MaskinportenStandin
from maskinporten_testbed.testca import BusinessCertificate, CertificateAuthority

from .helpers import CERT_CLIENT_ID, ORG, OTHER_ORG, Grants, assert_rejected, post_grant, sign


def _server_time(standin: MaskinportenStandin) -> datetime:
    return datetime.fromtimestamp(standin.clock.now(), UTC)


async def test_certificate_from_an_untrusted_ca_is_rejected_with_mp_120(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    stranger = CertificateAuthority("Untrusted").issue(ORG)

    response = await post_grant(http, standin, grants.x5c(stranger))

    assert_rejected(response, "invalid_grant", "MP-120")


async def test_expired_certificate_is_rejected_with_mp_120(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants, ca: CertificateAuthority
) -> None:
    expired = ca.issue(ORG, not_after=_server_time(standin) - timedelta(seconds=1))

    response = await post_grant(http, standin, grants.x5c(expired))

    assert_rejected(response, "invalid_grant", "MP-120")


async def test_not_yet_valid_certificate_is_rejected_with_mp_120(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants, ca: CertificateAuthority
) -> None:
    early = ca.issue(ORG, not_before=_server_time(standin) + timedelta(seconds=1))

    response = await post_grant(http, standin, grants.x5c(early))

    assert_rejected(response, "invalid_grant", "MP-120")


async def test_certificate_without_digital_signature_usage_is_rejected_with_mp_120(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants, ca: CertificateAuthority
) -> None:
    non_repudiation = ca.issue(ORG, digital_signature=False)

    response = await post_grant(http, standin, grants.x5c(non_repudiation))

    assert_rejected(response, "invalid_grant", "MP-120")


async def test_certificate_of_another_organisation_is_rejected_with_mp_120(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants, ca: CertificateAuthority
) -> None:
    response = await post_grant(http, standin, grants.x5c(ca.issue(OTHER_ORG)))

    assert_rejected(response, "invalid_grant", "MP-120")


async def test_x5c_without_the_intermediate_is_rejected_with_mp_120(
    standin: MaskinportenStandin,
    http: httpx.AsyncClient,
    grants: Grants,
    business_certificate: BusinessCertificate,
) -> None:
    key = RSAKey.import_key(business_certificate.private_key_pem())
    header = {"alg": "RS256", "x5c": business_certificate.x5c()[:1]}

    response = await post_grant(http, standin, sign(header, grants.claims(iss=CERT_CLIENT_ID), key))

    assert_rejected(response, "invalid_grant", "MP-120")


async def test_x5c_that_is_not_base64_der_is_rejected_with_mp_120(
    standin: MaskinportenStandin,
    http: httpx.AsyncClient,
    grants: Grants,
    business_certificate: BusinessCertificate,
) -> None:
    key = RSAKey.import_key(business_certificate.private_key_pem())
    header = {"alg": "RS256", "x5c": [base64.b64encode(b"not a certificate").decode()]}

    response = await post_grant(http, standin, sign(header, grants.claims(iss=CERT_CLIENT_ID), key))

    assert_rejected(response, "invalid_grant", "MP-120")


async def test_x5c_grant_signed_by_another_key_than_the_certificate_is_rejected_with_mp_124(
    standin: MaskinportenStandin,
    http: httpx.AsyncClient,
    grants: Grants,
    business_certificate: BusinessCertificate,
    client_key: RSAKey,
) -> None:
    header = {"alg": "RS256", "x5c": business_certificate.x5c()}

    response = await post_grant(
        http, standin, sign(header, grants.claims(iss=CERT_CLIENT_ID), client_key)
    )

    assert_rejected(response, "invalid_grant", "MP-124")
