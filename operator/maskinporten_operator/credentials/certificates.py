"""Business certificates ("virksomhetssertifikat"): checks before use, ``x5c`` chains, expiry.

Maskinporten rejects a grant signed with a certificate that is expired, not yet valid, or not
meant for digital signatures (MP-120) and one whose signature does not match the certificate
(MP-124). Checking first turns those into errors that say what to do. Pure: time comes from
the caller.

:func:`key_with_certificates` makes the ClientKey of a key read with its certificates (from a PEM
or PKCS#12 file): one with a business certificate signs grants with ``x5c``, one without with
``kid``; ``mode`` forces either, and a ``key_id`` given for a certificate means its key is
registered, so ``kid`` is used (as the Java jwt-grant-generator does with ``keystore.kid``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from joserfc.jwk import RSAKey

from maskinporten_operator.api import KeyMode
from maskinporten_operator.credentials.keys import (
    DEFAULT_ALGORITHM,
    ClientKey,
    InvalidKeyError,
    check_private_rsa,
)
from maskinporten_operator.rfc3339 import format_time

EXPIRY_WARNING_DAYS = 30
NEEDS_CERTIFICATE = (
    "x5c grants need a business certificate (a PKCS#12 file, or a PEM key with its certificate "
    "chain)"
)


class CertificateError(InvalidKeyError):
    """A certificate cannot be used; the message says what to do (and holds no secrets)."""


def key_with_certificates(
    private_key: object,
    certificates: Sequence[x509.Certificate],
    *,
    source: str,
    now: datetime,
    key_id: str | None,
    mode: KeyMode,
) -> ClientKey:
    """``private_key`` signing by ``kid`` (``key_id``, else its RFC 7638 thumbprint), or by
    ``x5c`` with its chain out of ``certificates`` once its certificate is checked at ``now``."""
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise InvalidKeyError(f"{source} holds a non-RSA key; Maskinporten needs an RSA key")
    key = RSAKey.import_key(private_key)
    if mode is KeyMode.KEY_ID or (mode is KeyMode.AUTO and (key_id or not certificates)):
        check_private_rsa(key, source)
        kid = key_id or key.thumbprint()
        return ClientKey.from_rsa_key(kid=kid, algorithm=DEFAULT_ALGORITHM, key=key)
    if not certificates:
        raise InvalidKeyError(f"{source} holds no certificate: {NEEDS_CERTIFICATE}")
    chain = chain_for_key(private_key, certificates, source)
    check_certificate(chain[0], now=now, where=source)
    check_private_rsa(key, source, registered=False)
    return ClientKey.from_rsa_key(
        kid=thumbprint(chain[0]),
        algorithm=DEFAULT_ALGORITHM,
        key=key,
        certificate_chain=x5c(chain),
    )


def describe(certificate: x509.Certificate) -> str:
    """``'<organisation> (org <number>)'``, or the subject, to name a certificate in messages."""
    subject = certificate.subject
    names = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    identifiers = subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    numbers = [str(a.value).removeprefix("NTRNO-") for a in identifiers] or [
        str(a.value) for a in subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    ]
    if names and numbers:
        return f"{names[0].value!s} (org {numbers[0]})"
    return subject.rfc4514_string() or "without a subject"


def chain_for_key(
    private_key: rsa.RSAPrivateKey, certificates: Sequence[x509.Certificate], where: str
) -> list[x509.Certificate]:
    """The certificate of ``private_key`` followed by its issuers found in ``certificates``.

    Certificates that are not part of that chain are left out; the order given does not matter.
    """
    public = _public_der(private_key.public_key())
    leaf = next((c for c in certificates if _public_der(c.public_key()) == public), None)
    if leaf is None:
        which = (
            f"the certificate ({describe(certificates[0])})"
            if len(certificates) == 1
            else f"any of the {len(certificates)} certificates"
        )
        raise CertificateError(
            f"{where}: the private key does not belong to {which}; use the key the business "
            "certificate was issued for (they come together in the .p12 file from the issuer)"
        )
    chain = [leaf]
    while chain[-1].issuer != chain[-1].subject:
        parent = next(
            (c for c in certificates if c.subject == chain[-1].issuer and c not in chain), None
        )
        if parent is None:
            break
        chain.append(parent)
    return chain


def check_certificate(certificate: x509.Certificate, *, now: datetime, where: str) -> None:
    """Valid at ``now`` (timezone-aware) and meant for digital signatures."""
    name = describe(certificate)
    if now < certificate.not_valid_before_utc:
        raise CertificateError(
            f"{where}: the certificate for {name} is not valid until "
            f"{_date(certificate.not_valid_before_utc)}; check this machine's clock, or wait"
        )
    if now > certificate.not_valid_after_utc:
        raise CertificateError(
            f"{where}: the certificate for {name} expired on "
            f"{_date(certificate.not_valid_after_utc)}; Maskinporten rejects it: order a new "
            "business certificate and use it instead"
        )
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.digital_signature:
        raise CertificateError(
            f"{where}: the certificate for {name} is not meant for digital signatures (its key "
            "usage lacks digitalSignature); business certificates come in pairs: use the one "
            "whose key usage includes digital signature (the authentication certificate)"
        )


def x5c(chain: Sequence[x509.Certificate]) -> tuple[str, ...]:
    """The chain as a JWS ``x5c`` value: standard base64 of each DER certificate."""
    return tuple(
        base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in chain
    )


def thumbprint(certificate: x509.Certificate) -> str:
    """The ``x5t#S256`` thumbprint: base64url SHA-256 of the DER certificate, unpadded."""
    digest = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def leaf_certificate(key: ClientKey) -> x509.Certificate | None:
    if not key.certificate_chain:
        return None
    return x509.load_der_x509_certificate(base64.b64decode(key.certificate_chain[0]))


def days_until_expiry(key: ClientKey, *, now: datetime) -> int | None:
    """Whole days left on the key's certificate (negative once expired); None without one."""
    leaf = leaf_certificate(key)
    return None if leaf is None else (leaf.not_valid_after_utc - now).days


def expiry_warning(key: ClientKey, *, now: datetime) -> str | None:
    """A warning when the certificate expires within ``EXPIRY_WARNING_DAYS`` days."""
    leaf = leaf_certificate(key)
    days = days_until_expiry(key, now=now)
    if leaf is None or days is None or days > EXPIRY_WARNING_DAYS:
        return None
    return (
        f"the business certificate for {describe(leaf)} expires on "
        f"{_date(leaf.not_valid_after_utc)} (in {max(days, 0)} days): order a new one now"
    )


def _public_der(key: object) -> bytes:
    if not isinstance(key, rsa.RSAPublicKey):
        return b""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _date(moment: datetime) -> str:
    return format_time(moment.timestamp())
