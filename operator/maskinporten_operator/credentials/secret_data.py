"""Which data key of a Secret holds what, and reading a credential out of a Secret's data.

A Secret's data arrives base64-encoded (the Kubernetes wire shape); :func:`raw_data` decodes it
to bytes, since keystores are binary. :func:`read_key` finds the credential in it the way the
README documents (``spec.key``) and hands it to the reader of its format: a PKCS#12 keystore
(:mod:`.pkcs12`), a PEM private key whose certificates (in it, or under ``tls.crt``) make it a
business certificate (:mod:`.pem`), or a private JWK (:mod:`.jwk`).
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from maskinporten_operator.api import KeyMode, KeySpec
from maskinporten_operator.credentials.jwk import load_jwk
from maskinporten_operator.credentials.keys import ClientKey, InvalidKeyError, PasswordError
from maskinporten_operator.credentials.pem import is_pem, load_pem
from maskinporten_operator.credentials.pkcs12 import is_keystore, load_pkcs12

JWK_DATA_KEYS = ("jwk", "MASKINPORTEN_CLIENT_JWK")
PKCS12_DATA_KEYS = ("keystore.p12", "keystore.pfx", "certificate.p12")
PEM_DATA_KEYS = ("key.pem", "tls.key", "private.pem")
CHAIN_DATA_KEYS = ("tls.crt", "certificate.pem", "chain.pem")
KID_DATA_KEY = "kid"
KEY_DATA_KEYS = (*JWK_DATA_KEYS, *PKCS12_DATA_KEYS, *PEM_DATA_KEYS)
CERTIFICATE_FIRST = (*PKCS12_DATA_KEYS, *PEM_DATA_KEYS, *JWK_DATA_KEYS)


class MissingDataError(InvalidKeyError):
    """A Secret lacks the data key it was pointed at."""


def raw_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """A Secret's ``data`` decoded to bytes; entries that are not base64 are left out."""
    decoded: dict[str, bytes] = {}
    for key, value in (secret.get("data") or {}).items():
        with contextlib.suppress(ValueError):
            decoded[key] = base64.b64decode(value)
    return decoded


def encode_data(data: Mapping[str, str]) -> dict[str, str]:
    """Text values as a Secret's base64-encoded ``data``."""
    return {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}


def password_in(data: Mapping[str, bytes], key: str, *, where: str) -> bytes:
    """The password under ``key``, without its trailing line break (:func:`trimmed_password`).

    Raises :class:`MissingDataError` when there is no such key: an absent password is never
    read as an empty one.
    """
    password = data.get(key)
    if password is None:
        raise _missing(where, f"'{key}'", data)
    return trimmed_password(password)


def trimmed_password(password: bytes) -> bytes:
    """A password as stored in a Secret, without one trailing line break (``\\n`` or ``\\r\\n``,
    as ``echo pw >`` leaves it)."""
    return password.removesuffix(b"\n").removesuffix(b"\r")


def read_key(
    data: Mapping[str, bytes],
    key_spec: KeySpec,
    *,
    source: str,
    password: bytes | None,
    now: datetime,
) -> ClientKey:
    """The key in a Secret's data (see the module), as ``key_spec`` describes it.

    The data key ``spec.key.secretKey`` names, else the first of the usual ones present, is read
    by its content: a keystore, a PEM key, or else a JWK. ``now`` (timezone-aware) checks a
    business certificate's validity. Raises :class:`InvalidKeyError` with what to change; never
    includes key material.
    """
    mode = key_spec.mode
    candidates = CERTIFICATE_FIRST if mode is KeyMode.CERTIFICATE else KEY_DATA_KEYS
    name = key_spec.secret_key or next((k for k in candidates if k in data), None)
    if name is None or name not in data:
        expected = name or " or ".join(f"'{k}'" for k in candidates)
        raise _missing(source, f"under {expected}", data)
    where = f"{source} key '{name}'"
    content = data[name]
    stored_kid = data.get(KID_DATA_KEY, b"").decode(errors="replace").strip()
    keystore = name in PKCS12_DATA_KEYS or is_keystore(content)
    if not keystore and not is_pem(content):
        return load_jwk(
            content.decode(errors="replace"),
            source=where,
            key_id=key_spec.key_id,
            default_kid=stored_kid,
            mode=mode,
        )
    key_id = key_spec.key_id or stored_kid or None
    try:
        if keystore:
            key = load_pkcs12(
                content, source=where, now=now, password=password, key_id=key_id, mode=mode
            )
        else:
            key = load_pem(
                content,
                source=where,
                now=now,
                password=password,
                chain=b"".join(data[k] for k in CHAIN_DATA_KEYS if k in data and k != name),
                key_id=key_id,
                mode=mode,
            )
    except PasswordError as error:
        raise PasswordError(
            f"{error}; set spec.key.passwordSecretRef to the Secret holding the password, or "
            "store the key unencrypted"
        ) from None
    if not key.certificate_chain and key_id is None:
        raise InvalidKeyError(
            f"{where} carries no key id, and grants without a certificate name their key by "
            "one: set spec.key.keyId to the kid registered at Maskinporten, or add it to the "
            f"Secret under '{KID_DATA_KEY}'"
        )
    return key


def _missing(where: str, wanted: str, data: Mapping[str, bytes]) -> MissingDataError:
    present = ", ".join(f"'{k}'" for k in sorted(data)) or "none"
    return MissingDataError(f"{where} has no key {wanted} (data keys present: {present})")
