"""A PEM private key (RFC 7468 textual encoding of PKCS#1 or PKCS#8, encrypted or not) read into
a ClientKey, with the certificates (RFC 7468 ``CERTIFICATE`` blocks) that come with it.

Certificates in the key's own file or in a separate chain make it a business certificate (see
:func:`.certificates.key_with_certificates`). A missing or wrong password is a
:class:`.keys.PasswordError`, to which the caller adds where the password comes from.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from maskinporten_operator.api import KeyMode
from maskinporten_operator.credentials.certificates import key_with_certificates
from maskinporten_operator.credentials.keys import (
    ClientKey,
    InvalidKeyError,
    PasswordError,
    public_key_only,
)

PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
NO_PRIVATE_KEY = (
    "holds no PEM private key (a block starting '-----BEGIN PRIVATE KEY-----' "
    "or '-----BEGIN RSA PRIVATE KEY-----')"
)


def is_pem(data: bytes) -> bool:
    """Holds a PEM block: text before it (as ``openssl pkcs12 -nodes`` writes) is allowed."""
    return b"-----BEGIN" in data


def load_pem(
    data: bytes,
    *,
    source: str,
    now: datetime,
    password: bytes | None = None,
    chain: bytes = b"",
    key_id: str | None = None,
    mode: KeyMode = KeyMode.AUTO,
) -> ClientKey:
    """The PEM private key in ``data``, named in errors as ``source``; certificates in ``data``
    or in ``chain`` (PEM) come with it. Without a certificate (or with ``key_id``) it signs by
    ``key_id``, else by its RFC 7638 thumbprint."""
    private_key = _private_key(data, source, password)
    certificates = _certificates(data, source) + _certificates(chain, f"{source} chain")
    return key_with_certificates(
        private_key, certificates, source=source, now=now, key_id=key_id, mode=mode
    )


def _private_key(data: bytes, source: str, password: bytes | None) -> object:
    if b"PRIVATE KEY-----" not in data:
        if b"PUBLIC KEY-----" in data:
            raise public_key_only(source)
        found = ": it is a certificate, not a private key" if PEM_CERTIFICATE in data else ""
        raise InvalidKeyError(f"{source} {NO_PRIVATE_KEY}{found}")
    # OpenSSL's full RSA validation (~50 ms) is replaced by check_private_rsa's congruences
    try:
        return serialization.load_pem_private_key(
            data, password, unsafe_skip_rsa_key_validation=True
        )
    except TypeError:
        if password is None:
            raise PasswordError(f"{source} is encrypted: give its password") from None
        return serialization.load_pem_private_key(  # not encrypted after all
            data, None, unsafe_skip_rsa_key_validation=True
        )
    except ValueError:
        if password is not None:
            raise PasswordError(f"{source}: wrong password, or a damaged key") from None
        raise InvalidKeyError(f"{source} is not a readable RSA private key in PEM form") from None


def _certificates(data: bytes, source: str) -> list[x509.Certificate]:
    if PEM_CERTIFICATE not in data:
        return []
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise InvalidKeyError(f"{source} holds a certificate that cannot be read") from None
