"""What the operator's Secrets hold, and whether an existing Secret already holds it.

Pure: bodies are plain dicts in the Kubernetes wire shape (``data`` base64-encoded).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from maskinporten_operator.api import (
    API_VERSION,
    CLIENT_ANNOTATION,
    CLIENT_LABEL,
    DATA_HASH_ANNOTATION,
    KIND,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    ROLE_LABEL,
    TOKENS_ANNOTATION,
    label_value,
)
from maskinporten_operator.credentials.secret_data import encode_data
from maskinporten_operator.rfc3339 import format_time, parse_time


class Role:
    WORKLOAD = "workload"
    KEY = "key"


@dataclass(frozen=True)
class Owner:
    name: str
    uid: str

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
        }


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str = field(repr=False)
    issued_at: float
    expires_at: float
    fingerprint: str
    name: str = ""
    """"" for the default token; otherwise the ``spec.tokens`` entry it belongs to."""
    altinn_token: str | None = field(default=None, repr=False)
    """The Altinn token exchanged for this one, when ``spec.altinnExchange`` asks for it."""


def token_key(name: str, prefix: str = "MASKINPORTEN") -> str:
    """``MASKINPORTEN_ACCESS_TOKEN``, or ``MASKINPORTEN_ACCESS_TOKEN_<NAME>`` for a named token
    (``ALTINN_…`` for the exchanged Altinn token)."""
    suffix = "_" + name.upper().replace("-", "_") if name else ""
    return f"{prefix}_ACCESS_TOKEN{suffix}"


@dataclass(frozen=True)
class Endpoints:
    issuer: str
    token_endpoint: str
    well_known_url: str
    jwks_uri: str


def fingerprint(*fields: str) -> str:
    """A short digest of what a token was requested with (no secrets go into it)."""
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()[:32]


DATA_DIGEST = "dataDigest"
"""In a Secret served by the operator's Secret watch without its ``data`` (see
:meth:`~maskinporten_operator.ports.KubernetesApi.get_watched_secret`): the
:func:`data_digest` of that data, in its place."""


def data_digest(secret: Mapping[str, Any]) -> bytes:
    """SHA-256 of a Secret's ``data`` as stored (base64 values, keys sorted): equal for two
    bodies exactly when their data is. A body without its data carries it (:data:`DATA_DIGEST`)."""
    held = secret.get(DATA_DIGEST)
    if isinstance(held, bytes):
        return held
    return _sha256_of(secret.get("data") or {}).digest()


def has_data(secret: Mapping[str, Any]) -> bool:
    """False for a body served without its ``data`` (:data:`DATA_DIGEST` in its place)."""
    return DATA_DIGEST not in secret


def without_data(secret: Mapping[str, Any]) -> dict[str, Any]:
    """``secret`` with its ``data`` replaced by :data:`DATA_DIGEST`."""
    kept = {field: value for field, value in secret.items() if field != "data"}
    return kept | {DATA_DIGEST: data_digest(secret)}


def data_hash(data: Mapping[str, str]) -> str:
    """SHA-256 (hex) of decoded data, as the operator's data-hash annotation holds it."""
    return _sha256_of(data).hexdigest()


def _sha256_of(data: Mapping[str, str]) -> hashlib._Hash:
    """Of ``data`` as compact JSON with its keys sorted."""
    canonical = json.dumps(dict(sorted(data.items())), separators=(",", ":"))
    return hashlib.sha256(canonical.encode())


def workload_data(
    *,
    tokens: Sequence[IssuedToken],
    client_id: str,
    scopes: tuple[str, ...],
    endpoints: Endpoints,
    client_jwk: str | None,
) -> dict[str, str]:
    data = {}
    for token in tokens:
        data[token_key(token.name)] = token.access_token
        data[token_key(token.name) + "_EXPIRES_AT"] = format_time(token.expires_at)
        if token.altinn_token is not None:
            data[token_key(token.name, "ALTINN")] = token.altinn_token
    data |= {
        "MASKINPORTEN_CLIENT_ID": client_id,
        "MASKINPORTEN_SCOPES": " ".join(scopes),
        "MASKINPORTEN_ISSUER": endpoints.issuer,
        "MASKINPORTEN_TOKEN_ENDPOINT": endpoints.token_endpoint,
        "MASKINPORTEN_WELL_KNOWN_URL": endpoints.well_known_url,
        "MASKINPORTEN_JWKS_URI": endpoints.jwks_uri,
    }
    if client_jwk is not None:
        data["MASKINPORTEN_CLIENT_JWK"] = client_jwk
    return data


def secret_body(
    *,
    name: str,
    namespace: str,
    owner: Owner,
    role: str,
    data: Mapping[str, str],
    annotations: Mapping[str, str],
    owned: bool,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": {
            MANAGED_BY_LABEL: MANAGED_BY,
            CLIENT_LABEL: label_value(owner.name),
            ROLE_LABEL: role,
        },
        "annotations": {
            **annotations,
            CLIENT_ANNOTATION: owner.name,
            DATA_HASH_ANNOTATION: data_hash(data),
        },
    }
    if owned:
        metadata["ownerReferences"] = [owner.reference()]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": metadata,
        "data": encode_data(data),
    }


def token_annotations(tokens: Sequence[IssuedToken]) -> dict[str, str]:
    """What each token was requested with and when it expires (no token material)."""
    described = {
        token.name: {
            "fingerprint": token.fingerprint,
            "issuedAt": format_time(token.issued_at),
            "expiresAt": format_time(token.expires_at),
        }
        for token in tokens
    }
    return {TOKENS_ANNOTATION: json.dumps(described, sort_keys=True, separators=(",", ":"))}


def decode_data(secret: Mapping[str, Any]) -> dict[str, str]:
    raw = secret.get("data") or {}
    decoded: dict[str, str] = {}
    for key, value in raw.items():
        try:
            decoded[key] = base64.b64decode(value).decode()
        except (ValueError, UnicodeDecodeError):
            decoded[key] = ""
    return decoded


def is_owned_by(secret: Mapping[str, Any], owner: Owner) -> bool:
    references = secret.get("metadata", {}).get("ownerReferences") or []
    return any(reference.get("uid") == owner.uid for reference in references)


def is_intact(secret: Mapping[str, Any]) -> bool:
    """True when the data is what the operator last wrote (no one edited or emptied it)."""
    annotations = secret.get("metadata", {}).get("annotations") or {}
    return annotations.get(DATA_HASH_ANNOTATION) == data_hash(decode_data(secret))


def described_token_names(secret: Mapping[str, Any]) -> frozenset[str]:
    """The names of the tokens the workload Secret's annotation describes (none when it is
    missing or malformed): readable without the Secret's data."""
    annotations = secret.get("metadata", {}).get("annotations") or {}
    try:
        described = json.loads(annotations.get(TOKENS_ANNOTATION, "{}"))
    except ValueError:
        return frozenset()
    return frozenset(described) if isinstance(described, dict) else frozenset()


def tokens_in_secret(secret: Mapping[str, Any]) -> dict[str, IssuedToken]:
    """The tokens an intact workload Secret holds, by name, for reuse after a restart."""
    if not is_intact(secret):
        return {}
    annotations = secret.get("metadata", {}).get("annotations") or {}
    data = decode_data(secret)
    tokens = {}
    try:
        described = json.loads(annotations.get(TOKENS_ANNOTATION, "{}"))
        for name, facts in described.items():
            access_token = data.get(token_key(name))
            if access_token:
                tokens[name] = IssuedToken(
                    access_token,
                    parse_time(facts["issuedAt"]),
                    parse_time(facts["expiresAt"]),
                    facts["fingerprint"],
                    name,
                    data.get(token_key(name, "ALTINN")),
                )
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}
    return tokens


def differs(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """Whether writing ``desired`` over ``existing`` would change anything the operator owns;
    ``existing`` may be served without its data (:func:`data_digest`)."""
    have, want = existing.get("metadata", {}), desired["metadata"]
    return (
        data_digest(existing) != data_digest(desired)
        or any((have.get("labels") or {}).get(k) != v for k, v in want["labels"].items())
        or any((have.get("annotations") or {}).get(k) != v for k, v in want["annotations"].items())
        or (have.get("ownerReferences") or []) != want.get("ownerReferences", [])
    )
