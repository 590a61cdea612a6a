"""Business certificates are checked before use: each problem Maskinporten would reject with a
terse MP-120 becomes an error that says what is wrong and what to do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from maskinporten_operator.credentials.certificates import (
    CertificateError,
    chain_for_key,
    check_certificate,
    days_until_expiry,
    expiry_warning,
    thumbprint,
)
from maskinporten_operator.credentials.keys import ClientKey
from maskinporten_operator.credentials.pem import load_pem
from maskinporten_testbed.testca import BusinessCertificate, CertificateAuthority
from tests.helpers import NOW, ORG

WHERE = "PKCS#12 file virksomhet.p12"


def key_expiring(ca: CertificateAuthority, days: float) -> ClientKey:
    certificate = ca.issue(ORG, not_after=NOW + timedelta(days=days, hours=1))
    return load_pem(certificate.private_key_pem() + certificate.chain_pem(), source=WHERE, now=NOW)


def rejection(certificate: BusinessCertificate) -> str:
    with pytest.raises(CertificateError) as caught:
        check_certificate(certificate.certificate, now=NOW, where=WHERE)
    return str(caught.value)


def test_valid_signing_certificate_passes(business_certificate: BusinessCertificate) -> None:
    check_certificate(business_certificate.certificate, now=NOW, where=WHERE)


def test_expired_certificate_says_when_it_expired_and_to_order_a_new_one(
    ca: CertificateAuthority,
) -> None:
    expired_on = NOW - timedelta(days=3)

    message = rejection(ca.issue(ORG, not_after=expired_on))

    assert WHERE in message
    assert f"expired on {expired_on:%Y-%m-%d}" in message
    assert "order a new business certificate" in message


def test_not_yet_valid_certificate_points_at_the_clock(ca: CertificateAuthority) -> None:
    starts = NOW + timedelta(days=2)

    message = rejection(ca.issue(ORG, not_before=starts, not_after=starts + timedelta(days=30)))

    assert f"not valid until {starts:%Y-%m-%d}" in message
    assert "clock" in message


def test_certificate_without_digital_signature_says_to_use_the_other_one_of_the_pair(
    ca: CertificateAuthority,
) -> None:
    message = rejection(ca.issue(ORG, digital_signature=False))

    assert "not meant for digital signatures" in message
    assert "come in pairs" in message


def test_messages_name_the_organisation_of_the_certificate(ca: CertificateAuthority) -> None:
    message = rejection(ca.issue(ORG, organization="BILLING AS", digital_signature=False))

    assert f"BILLING AS (org {ORG})" in message


def test_chain_starts_with_the_certificate_of_the_key_whatever_the_given_order(
    business_certificate: BusinessCertificate, ca: CertificateAuthority
) -> None:
    given = [ca.root, ca.intermediate, business_certificate.certificate]

    chain = chain_for_key(business_certificate.private_key, given, WHERE)

    assert chain == [business_certificate.certificate, ca.intermediate, ca.root]


def test_chain_leaves_out_certificates_that_are_not_in_it(
    business_certificate: BusinessCertificate, ca: CertificateAuthority
) -> None:
    other = ca.issue("987654321").certificate
    given = [other, business_certificate.certificate, ca.intermediate]

    chain = chain_for_key(business_certificate.private_key, given, WHERE)

    assert chain == [business_certificate.certificate, ca.intermediate]


def test_key_that_belongs_to_no_certificate_is_a_mismatch(
    business_certificate: BusinessCertificate, rsa_2048: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(CertificateError) as caught:
        chain_for_key(rsa_2048, [business_certificate.certificate], WHERE)

    assert "the private key does not belong to the certificate" in str(caught.value)


def test_thumbprint_is_unpadded_base64url_of_a_sha256(
    business_certificate: BusinessCertificate,
) -> None:
    value = thumbprint(business_certificate.certificate)

    assert len(value) == 43
    assert "=" not in value
    assert "+" not in value
    assert "/" not in value


def test_days_until_expiry_counts_whole_days_left(ca: CertificateAuthority) -> None:
    assert days_until_expiry(key_expiring(ca, 45), now=NOW) == 45


def test_days_until_expiry_is_none_for_a_registered_key(client_key: ClientKey) -> None:
    assert days_until_expiry(client_key, now=NOW) is None


def test_expiry_warning_starts_30_days_ahead(ca: CertificateAuthority) -> None:
    warning = expiry_warning(key_expiring(ca, 30), now=NOW)

    assert warning is not None
    assert "in 30 days" in warning
    assert "order a new one" in warning


def test_no_expiry_warning_31_days_ahead(ca: CertificateAuthority) -> None:
    assert expiry_warning(key_expiring(ca, 31), now=NOW) is None


def test_no_expiry_warning_for_a_registered_key(client_key: ClientKey) -> None:
    assert expiry_warning(client_key, now=NOW) is None
