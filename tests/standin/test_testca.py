"""The test CA issues virksomhetssertifikat-like certificates in the formats later work needs."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12
from cryptography.x509.oid import NameOID

from maskinporten_testbed.testca import BusinessCertificate, CertificateAuthority

from .helpers import ORG


def test_business_certificate_names_the_org_as_organization_identifier_and_serial_number(
    business_certificate: BusinessCertificate,
) -> None:
    subject = business_certificate.certificate.subject

    assert (
        subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value == f"NTRNO-{ORG}"
    )
    assert subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == ORG


def test_business_certificate_has_an_rsa_2048_key_for_digital_signatures(
    business_certificate: BusinessCertificate,
) -> None:
    key = business_certificate.certificate.public_key()
    usage = business_certificate.certificate.extensions.get_extension_for_class(x509.KeyUsage)

    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048
    assert usage.value.digital_signature
    assert usage.critical


def test_certificate_without_digital_signature_has_non_repudiation_only(
    ca: CertificateAuthority,
) -> None:
    usage = ca.issue(ORG, digital_signature=False).certificate.extensions.get_extension_for_class(
        x509.KeyUsage
    )

    assert not usage.value.digital_signature
    assert usage.value.content_commitment


def test_expired_certificate_ends_at_the_requested_time(ca: CertificateAuthority) -> None:
    end = datetime(2020, 1, 1, tzinfo=UTC)

    certificate = ca.issue(ORG, not_after=end).certificate

    assert certificate.not_valid_after_utc == end
    assert certificate.not_valid_before_utc < end


def test_chain_is_leaf_first_in_pem_der_and_x5c(
    ca: CertificateAuthority, business_certificate: BusinessCertificate
) -> None:
    from_pem = x509.load_pem_x509_certificates(business_certificate.chain_pem())
    from_der = [x509.load_der_x509_certificate(der) for der in business_certificate.chain_der()]

    assert from_pem == from_der == [business_certificate.certificate, ca.intermediate]
    assert len(business_certificate.x5c()) == 2
    ca.intermediate.verify_directly_issued_by(ca.root)
    business_certificate.certificate.verify_directly_issued_by(ca.intermediate)


def test_pkcs12_opens_with_its_password_and_holds_key_leaf_and_chain(
    ca: CertificateAuthority, business_certificate: BusinessCertificate
) -> None:
    bundle = pkcs12.load_pkcs12(business_certificate.pkcs12(b"secret"), b"secret")

    assert bundle.key is not None
    assert bundle.key.public_key() == business_certificate.certificate.public_key()
    assert bundle.cert is not None
    assert bundle.cert.certificate == business_certificate.certificate
    assert [c.certificate for c in bundle.additional_certs] == [ca.intermediate]


def test_private_key_pem_matches_the_certificate(business_certificate: BusinessCertificate) -> None:
    key = load_pem_private_key(business_certificate.private_key_pem(), password=None)

    assert key.public_key() == business_certificate.certificate.public_key()
