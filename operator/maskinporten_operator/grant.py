"""JWT grants for Maskinporten (RFC 7523 section 2.1: the signed JWT *is* the grant).

Pure: time and ``jti`` come from the caller, so every attempt, retries included, can mint a
fresh grant (Maskinporten rejects a reused ``jti`` with MP-012).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from joserfc import jwt

from maskinporten_operator.keys import ClientKey

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GRANT_LIFETIME_SECONDS = 60
"""Well inside Maskinporten's 120 s limit on ``exp - iat``, yet tolerant of a slow request."""


@dataclass(frozen=True)
class GrantClaims:
    """What a grant asks for; the client key and the time are supplied when signing."""

    client_id: str
    audience: str
    scopes: tuple[str, ...]
    resource: str | None = None
    consumer_org: str | None = None

    def fingerprint_fields(self) -> tuple[str, ...]:
        return (
            self.client_id,
            self.audience,
            " ".join(self.scopes),
            self.resource or "",
            self.consumer_org or "",
        )


def grant_claims(claims: GrantClaims, *, now: int, jti: str) -> dict[str, Any]:
    """The claim set, exactly the documented claims and nothing else (unknown ones are rejected)."""
    payload: dict[str, Any] = {
        "aud": claims.audience,
        "iss": claims.client_id,
        "scope": " ".join(claims.scopes),
        "iat": now,
        "exp": now + GRANT_LIFETIME_SECONDS,
        "jti": jti,
    }
    if claims.resource is not None:
        payload["resource"] = claims.resource
    if claims.consumer_org is not None:
        payload["consumer_org"] = claims.consumer_org
    return payload


def sign_grant(claims: GrantClaims, key: ClientKey, *, now: int, jti: str | None = None) -> str:
    """A compact JWS: header ``alg``, ``typ: JWT`` and ``kid``; a new UUID ``jti`` unless given."""
    header = {"alg": key.algorithm, "typ": "JWT", "kid": key.kid}
    payload = grant_claims(claims, now=now, jti=jti or str(uuid.uuid4()))
    return jwt.encode(header, payload, key.key, algorithms=[key.algorithm])
