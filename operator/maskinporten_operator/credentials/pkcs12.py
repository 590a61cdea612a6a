"""A PKCS#12 file (RFC 7292: .p12/.pfx, and the keystores keytool writes since Java 9) read into
a ClientKey with its certificates; Java's own JKS and JCEKS keystores are refused with the
command that converts them.

A missing or wrong password is a :class:`.keys.PasswordError`, to which the caller adds where
the password comes from.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from cryptography.hazmat.primitives.serialization import pkcs12

from maskinporten_operator.api import KeyMode
from maskinporten_operator.credentials.certificates import key_with_certificates
from maskinporten_operator.credentials.keys import ClientKey, InvalidKeyError, PasswordError

JKS_MAGIC = {b"\xfe\xed\xfe\xed": "JKS", b"\xce\xce\xce\xce": "JCEKS"}
CONVERT_JKS = "keytool -importkeystore -srckeystore k.jks -destkeystore k.p12 -deststoretype PKCS12"


def is_keystore(data: bytes) -> bool:
    """DER, as a PKCS#12 file is (an ASN.1 SEQUENCE: 0x30), or a JKS or JCEKS keystore."""
    return data[:1] == b"0" or data[:4] in JKS_MAGIC


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
    """A PKCS#12 file with one key entry; ``alias`` (its friendly name) is checked when given.

    The proprietary JKS and JCEKS formats have no maintained Python reader: the error says how
    to convert them once.
    """
    kind = JKS_MAGIC.get(data[:4])
    if kind is not None:
        raise InvalidKeyError(
            f"{source} is a {kind} keystore, a Java-only format; convert it once to PKCS#12 "
            f"({CONVERT_JKS}) and use the .p12 file"
        )
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
    return key_with_certificates(
        bundle.key, certificates, source=source, now=now, key_id=key_id, mode=mode
    )


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
    (with the keystore password, else the alias password); JKS and JCEKS files are refused (see
    :func:`load_pkcs12`).
    """
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
