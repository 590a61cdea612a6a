"""Checks of an ``x5c`` business certificate chain against the CAs the stand-in trusts."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .model import GrantError, invalid_grant


def invalid_certificate(detail: str) -> GrantError:
    return invalid_grant("MP-120", f"The JWT is signed with an invalid certificate. {detail}")


def _load(x5c: object) -> list[x509.Certificate]:
    if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
        raise invalid_certificate("x5c must be a non-empty array of base64 DER certificates")
    try:
        return [x509.load_der_x509_certificate(base64.b64decode(c, validate=True)) for c in x5c]
    except (binascii.Error, ValueError) as error:
        raise invalid_certificate("x5c holds an unreadable certificate") from error


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    constraints = parent.extensions.get_extension_for_class(x509.BasicConstraints).value
    return constraints.ca


def org_number(certificate: x509.Certificate) -> str | None:
    """``organizationIdentifier`` (``NTRNO-<orgno>``), else the older ``serialNumber``."""
    for attribute in certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER):
        value = str(attribute.value)
        if value.startswith("NTRNO-"):
            return value.removeprefix("NTRNO-")
    serials = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    return str(serials[0].value) if serials else None


def verified_leaf(
    x5c: object, roots: Sequence[x509.Certificate], now: datetime
) -> tuple[x509.Certificate, bytes]:
    """The leaf certificate and its public key as PEM, once the whole chain checks out.

    ``now`` must be timezone-aware.
    """
    chain = _load(x5c)
    for cert in chain:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise invalid_certificate("The certificate is expired or not yet valid")
    try:
        if not all(_issued_by(child, parent) for child, parent in pairwise(chain)):
            raise invalid_certificate("The certificate chain is broken")
        top = chain[-1]
        if not any(top == root or _issued_by(top, root) for root in roots):
            raise invalid_certificate("The certificate is not issued by a trusted CA")
        leaf = chain[0]
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as error:
        raise invalid_certificate("The certificate lacks a required extension") from error
    if not usage.digital_signature:
        raise invalid_certificate("The certificate is not meant for digital signatures")
    public_key = leaf.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise invalid_certificate("The certificate key is not RSA")
    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return leaf, pem
