"""Which data key of a Secret holds what, and reading a credential out of a Secret's data.

A Secret's data arrives base64-encoded (the Kubernetes wire shape); :func:`raw_data` decodes it
to bytes, since keystores are binary. :func:`read_key` finds the credential in it the way the
README documents (``spec.key``): a private JWK, a PKCS#12 keystore, or a PEM private key, whose
certificates (in it, or under ``tls.crt``) make it a business certificate.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from maskinporten_operator.api import KeyMode, KeySpec
from maskinporten_operator.credentials.formats import (
    JKS_MAGIC,
    PEM_CERTIFICATE,
    load_jwk,
    load_keystore,
    load_pem,
    load_pkcs12,
)
from maskinporten_operator.credentials.keys import (
    JWK_DATA_KEYS,
    KID_DATA_KEY,
    PEM_DATA_KEYS,
    ClientKey,
    InvalidKeyError,
    load_client_key,
)

PKCS12_DATA_KEYS = ("keystore.p12", "keystore.pfx", "certificate.p12")
CHAIN_DATA_KEYS = ("tls.crt", "certificate.pem", "chain.pem")
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
    """The password under ``key``, without one trailing line break (as ``echo pw >`` leaves it).

    Raises :class:`MissingDataError` when there is no such key: an absent password is never
    read as an empty one.
    """
    password = data.get(key)
    if password is None:
        present = ", ".join(f"'{k}'" for k in sorted(data)) or "none"
        raise MissingDataError(f"{where} has no key '{key}' (data keys present: {present})")
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

    ``now`` (timezone-aware) checks a business certificate's validity. Raises
    :class:`InvalidKeyError` with what to change; never includes key material.
    """
    mode = key_spec.mode
    candidates = CERTIFICATE_FIRST if mode is KeyMode.CERTIFICATE else KEY_DATA_KEYS
    name = key_spec.secret_key or next((k for k in candidates if k in data), None)
    text = {k: v.decode(errors="replace") for k, v in data.items()}
    if name in JWK_DATA_KEYS and name in data:
        where = f"{source} key '{name}'"
        return load_jwk(
            text[name].strip(),
            source=where,
            key_id=key_spec.key_id,
            default_kid=text.get(KID_DATA_KEY, "").strip(),
            mode=mode,
        )
    if name is None or name not in data:
        return load_client_key(text, source=source, data_key=name, key_id=key_spec.key_id)
    where = f"{source} key '{name}'"
    key_id = key_spec.key_id or text.get(KID_DATA_KEY, "").strip() or None
    if data[name][:4] in JKS_MAGIC:
        return load_keystore(data[name], source=where, now=now, password=password, alias=None)
    if name in PKCS12_DATA_KEYS or data[name][:1] == b"0":
        key = load_pkcs12(
            data[name], source=where, now=now, password=password, key_id=key_id, mode=mode
        )
    else:
        chain = b"".join(data[k] for k in CHAIN_DATA_KEYS if k in data and k != name)
        plain = PEM_CERTIFICATE not in data[name] + chain and password is None
        if plain and mode is not KeyMode.CERTIFICATE:
            return load_client_key(text, source=source, data_key=name, key_id=key_spec.key_id)
        key = load_pem(
            data[name],
            source=where,
            now=now,
            password=password,
            chain=chain,
            key_id=key_id,
            mode=mode,
        )
    if not key.certificate_chain and key_id is None:
        raise InvalidKeyError(
            f"{where} is sent by key id, but none is given: set spec.key.keyId to the kid "
            f"registered at Maskinporten, or add it to the Secret under '{KID_DATA_KEY}'"
        )
    return key
