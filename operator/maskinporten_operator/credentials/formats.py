"""Every credential people hold, read from its bytes into a :class:`ClientKey`.

A private JWK; a PEM private key (PKCS#1 or PKCS#8, encrypted or not) with or without its
certificate chain; a PKCS#12 file (.p12/.pfx); a Java keystore. A credential with a business
certificate signs grants with ``x5c``, one without with ``kid``; ``mode`` forces either, and a
``key_id`` given for a certificate means its key is registered, so ``kid`` is used (as the Java
jwt-grant-generator does with ``keystore.kid``).

Errors name the credential (``source``, never its content) and what to do; they never hold key
material or passwords. Pure: time comes from the caller.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from joserfc.jwk import RSAKey

from maskinporten_operator.api import KeyMode
from maskinporten_operator.credentials.certificates import (
    chain_for_key,
    check_certificate,
    thumbprint,
    x5c,
)
from maskinporten_operator.credentials.keys import (
    DEFAULT_ALGORITHM,
    ClientKey,
    InvalidKeyError,
    check_private_rsa,
    client_key_from_jwk,
)

JKS_MAGIC = {b"\xfe\xed\xfe\xed": "JKS", b"\xce\xce\xce\xce": "JCEKS"}
CONVERT_JKS = "keytool -importkeystore -srckeystore k.jks -destkeystore k.p12 -deststoretype PKCS12"
PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"


class PasswordError(InvalidKeyError):
    """A password is missing or wrong; callers add where the password comes from."""


def load_jwk(
    text: str,
    *,
    source: str,
    key_id: str | None = None,
    default_kid: str = "",
    mode: KeyMode = KeyMode.AUTO,
) -> ClientKey:
    """A private JWK; a JWK has no certificate, so ``mode`` Certificate is refused."""
    if mode is KeyMode.CERTIFICATE:
        raise InvalidKeyError(f"{source} is a JWK, which has no certificate: {_NEEDS_CERTIFICATE}")
    return client_key_from_jwk(text, where=source, key_id=key_id, default_kid=default_kid)


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
    """A PEM private key; certificates in the same file or in ``chain`` (PEM) come with it."""
    if b"PRIVATE KEY-----" not in data:
        raise InvalidKeyError(
            f"{source} holds no PEM private key (a block starting '-----BEGIN PRIVATE KEY-----' "
            "or '-----BEGIN RSA PRIVATE KEY-----')"
        )
    try:
        private_key = serialization.load_pem_private_key(data, password)
    except TypeError:
        if password is None:
            raise PasswordError(f"{source} is encrypted: give its password") from None
        private_key = serialization.load_pem_private_key(data, None)  # not encrypted after all
    except ValueError:
        if password is not None:
            raise PasswordError(f"{source}: wrong password, or a damaged key") from None
        raise InvalidKeyError(f"{source} is not a readable PEM private key") from None
    certificates = _pem_certificates(data, source) + _pem_certificates(chain, f"{source} chain")
    return _client_key(private_key, certificates, source, now, key_id, mode)


def load_pkcs12(
    data: bytes,
    *,
    source: str,
    now: datetime,
    password: bytes | None,
    alias: str | None = None,
    key_id: str | None = None,
    mode: KeyMode = KeyMode.AUTO,
) -> ClientKey:
    """A PKCS#12 file with one key entry; ``alias`` (its friendly name) is checked when given."""
    try:
        bundle = pkcs12.load_pkcs12(data, password)
    except ValueError:
        if password is None:
            raise PasswordError(
                f"{source} is password-protected (or not a PKCS#12 file): give its password"
            ) from None
        raise PasswordError(f"{source}: wrong password, or not a PKCS#12 file") from None
    if bundle.key is None:
        raise InvalidKeyError(f"{source} holds no private key, only certificates")
    leaf = bundle.cert
    name = leaf.friendly_name.decode(errors="replace") if leaf and leaf.friendly_name else None
    if alias is not None and name is not None and name.casefold() != alias.casefold():
        raise InvalidKeyError(
            f"{source} has no key entry '{alias}' (its key entry is '{name}'; only the first "
            "key entry is read: export the one you need alone with keytool -importkeystore "
            "-srcalias ALIAS)"
        )
    certificates = [c.certificate for c in ([leaf] if leaf else []) + bundle.additional_certs]
    return _client_key(bundle.key, certificates, source, now, key_id, mode)


def load_keystore(
    data: bytes,
    *,
    source: str,
    now: datetime,
    password: bytes | None,
    alias: str | None,
    alias_password: bytes | None = None,
    key_id: str | None = None,
    mode: KeyMode = KeyMode.AUTO,
) -> ClientKey:
    """A Java keystore as the Java jwt-grant-generator opens it (``KeyStore.getInstance("JKS")``).

    Since Java 9 keytool writes PKCS#12 keystores, whatever the file is called, and those are read
    (with the keystore password, else the alias password). The proprietary JKS and JCEKS formats
    have no maintained Python reader: the error says how to convert them once.
    """
    kind = JKS_MAGIC.get(data[:4])
    if kind is not None:
        raise InvalidKeyError(
            f"{source} is a {kind} keystore, a Java-only format; convert it once to PKCS#12 "
            f"({CONVERT_JKS}) and use the .p12 file"
        )
    passwords: list[bytes | None] = [*dict.fromkeys(p for p in (password, alias_password) if p)]
    *first, last = passwords or [None]

    def attempt(candidate: bytes | None) -> ClientKey:
        return load_pkcs12(
            data, source=source, now=now, password=candidate, alias=alias, key_id=key_id, mode=mode
        )

    for candidate in first:
        with contextlib.suppress(PasswordError):
            return attempt(candidate)
    return attempt(last)


_NEEDS_CERTIFICATE = (
    "x5c grants need a business certificate (a PKCS#12 file, or a PEM key with its certificate "
    "chain)"
)


def _pem_certificates(data: bytes, source: str) -> list[x509.Certificate]:
    if PEM_CERTIFICATE not in data:
        return []
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise InvalidKeyError(f"{source} holds a certificate that cannot be read") from None


def _client_key(
    private_key: object,
    certificates: Sequence[x509.Certificate],
    source: str,
    now: datetime,
    key_id: str | None,
    mode: KeyMode,
) -> ClientKey:
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise InvalidKeyError(f"{source} holds a non-RSA key; Maskinporten needs an RSA key")
    key = RSAKey.import_key(private_key)
    if mode is KeyMode.KEY_ID or (mode is KeyMode.AUTO and (key_id or not certificates)):
        check_private_rsa(key, source)
        return ClientKey(kid=key_id or key.thumbprint(), algorithm=DEFAULT_ALGORITHM, key=key)
    if not certificates:
        raise InvalidKeyError(f"{source} holds no certificate: {_NEEDS_CERTIFICATE}")
    chain = chain_for_key(private_key, certificates, source)
    check_certificate(chain[0], now=now, where=source)
    check_private_rsa(key, source, registered=False)
    return ClientKey(
        kid=thumbprint(chain[0]),
        algorithm=DEFAULT_ALGORITHM,
        key=key,
        certificate_chain=x5c(chain),
    )
