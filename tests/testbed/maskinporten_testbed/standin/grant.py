"""Reading a token request and authenticating its JWT grant (RFC 7523 section 2.1)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from .certs import invalid_certificate, org_number, verified_leaf
from .model import (
    ALLOWED_CLAIMS,
    GRANT_ALGORITHMS,
    GRANT_TYPE,
    Client,
    GrantError,
    invalid_grant,
    invalid_request,
)
from .state import Registry

FORM = "application/x-www-form-urlencoded"
MAX_IAT_SKEW = 10
MAX_GRANT_LIFETIME = 120

_JWS = jws.JWSRegistry(algorithms=list(GRANT_ALGORITHMS), strict_check_header=False)
_JWS.max_header_length = 16_384  # joserfc's default (512 bytes) cannot hold an x5c chain


@dataclass(frozen=True)
class ParsedGrant:
    """A structurally sound grant whose signature is not checked yet."""

    signed: jws.CompactSignature
    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def client_id(self) -> str | None:
        iss = self.claims.get("iss")
        return iss if isinstance(iss, str) else None


@dataclass(frozen=True)
class Authenticated:
    client: Client
    method: str
    """``client_amr``: ``private_key_jwt`` for a registered key, else ``virksomhetssertifikat``."""


def parse_request(content_type: str, form: Mapping[str, str]) -> ParsedGrant:
    if content_type != FORM:
        raise invalid_request(f"Content-Type must be {FORM}")
    grant_type = form.get("grant_type")
    if not grant_type:
        raise invalid_request("Missing parameter grant_type")
    if grant_type != GRANT_TYPE:
        raise GrantError("unsupported_grant_type", "MP-011", f"grant_type must be {GRANT_TYPE}")
    assertion = form.get("assertion")
    if not assertion:
        raise invalid_request("Missing parameter assertion")
    try:
        signed = jws.extract_compact(assertion.encode(), registry=_JWS)
        header = signed.headers()
        claims = json.loads(signed.payload)
    except (JoseError, ValueError, TypeError) as error:
        raise invalid_grant("MP-100", "The assertion is not a JWS compact JWT") from error
    if not isinstance(claims, dict):
        raise invalid_grant("MP-100", "The JWT payload is not a JSON object")
    return ParsedGrant(signed, dict(header), claims)


def authenticate(grant: ParsedGrant, issuer: str, registry: Registry, now: float) -> Authenticated:
    """Checks header, claim names, client, key and signature, audience, times and ``jti``."""
    header, claims = grant.header, grant.claims
    if header.get("alg") not in GRANT_ALGORITHMS:
        raise invalid_grant("MP-100", f"alg must be one of {', '.join(GRANT_ALGORITHMS)}")
    if ("kid" in header) == ("x5c" in header):
        raise invalid_grant("MP-100", "The JWT header must hold exactly one of kid and x5c")
    unknown = sorted(claims.keys() - ALLOWED_CLAIMS)
    if unknown:
        raise invalid_request(f"Invalid assertion. Unknown claims: {', '.join(unknown)}")
    client = registry.client(grant.client_id or "", now)
    if client is None:
        raise invalid_grant("MP-100", "Invalid JWT claim iss: unknown client")
    public_key, method = _public_key(header, client, registry, now)
    try:
        valid = jws.validate_compact(grant.signed, public_key, registry=_JWS)
    except JoseError:
        valid = False
    if not valid:
        raise invalid_grant("MP-124", "Invalid signature")
    aud = claims.get("aud")
    if not isinstance(aud, str) or aud != issuer:
        raise invalid_grant("MP-110", f"Invalid JWT claim aud: must be the string {issuer}")
    _check_times(claims, now)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise invalid_grant("MP-100", "Missing JWT claim jti")
    if not registry.first_use(client.client_id, jti, claims["exp"], now):
        raise invalid_grant("MP-012", "Grant is used before")
    return Authenticated(client, method)


def _public_key(
    header: Mapping[str, Any], client: Client, registry: Registry, now: float
) -> tuple[RSAKey, str]:
    if "kid" in header:
        kid = header["kid"]
        key = client.key(kid) if isinstance(kid, str) else None
        if key is None:
            raise invalid_grant("MP-100", "Unknown kid for this client")
        if key.expires_at is not None and key.expires_at <= now:
            raise invalid_grant("MP-121", "Expired key")
        return RSAKey.import_key(key.jwk), "private_key_jwt"
    if client.keys:
        raise invalid_grant("MP-100", "Clients with registered keys must use kid, not x5c")
    leaf, pem = verified_leaf(header["x5c"], registry.trusted_cas, datetime.fromtimestamp(now, UTC))
    if org_number(leaf) != client.org:
        raise invalid_certificate("It belongs to another organisation than the client")
    return RSAKey.import_key(pem), "virksomhetssertifikat"


def _check_times(claims: Mapping[str, Any], now: float) -> None:
    iat, exp = claims.get("iat"), claims.get("exp")
    if not _is_number(iat) or not _is_number(exp):
        raise invalid_grant("MP-100", "The JWT claims iat and exp must be numbers")
    if abs(iat - now) > MAX_IAT_SKEW:
        raise invalid_grant("MP-100", f"Invalid JWT claim iat: over {MAX_IAT_SKEW} s off")
    if exp - iat > MAX_GRANT_LIFETIME:
        raise invalid_grant("MP-130", f"exp is more than {MAX_GRANT_LIFETIME} s after iat")
    if exp <= now:
        raise invalid_grant("MP-130", "The JWT is expired")


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
