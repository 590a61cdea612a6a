"""JWT grants for Maskinporten (RFC 7523 section 2.1: the signed JWT *is* the grant), and client
assertions for generic OAuth 2.0 ``private_key_jwt`` client credentials (RFC 7523 section 2.2).

Pure: time and ``jti`` come from the caller, so every attempt, retries included, can mint a
fresh grant (Maskinporten rejects a reused ``jti`` with MP-012). A key with a certificate chain
signs with an ``x5c`` header (business certificate), any other key with ``kid``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from joserfc import jwt

from maskinporten_operator.api import CONSENT_TYPE, SYSTEMUSER_TYPE, AuthorizationDetailSpec
from maskinporten_operator.credentials.keys import ClientKey

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLIENT_CREDENTIALS_GRANT_TYPE = "client_credentials"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRANT_LIFETIME_SECONDS = 60
"""Well inside Maskinporten's 120 s limit on ``exp - iat``, yet tolerant of a slow request."""
PARTY_AUTHORITY = "iso6523-actorid-upis"
ORG_NUMBER = re.compile(r"^[0-9]{9}$")


@dataclass(frozen=True)
class AuthorizationDetail:
    """One RFC 9396 authorization detail as the grant carries it: its ``type`` and its other
    members (``wire`` gives the JSON object). Source: ``docs/maskinporten-facts.md``, "The JWT
    grant"."""

    type: str
    members: tuple[tuple[str, Any], ...] = ()

    def wire(self) -> dict[str, Any]:
        return {"type": self.type, **dict(self.members)}


def systemuser_detail(org: str, external_ref: str | None = None) -> AuthorizationDetail:
    """Act as ``org``'s Altinn system user (``external_ref``: which of its system users)."""
    party = {"authority": PARTY_AUTHORITY, "ID": f"0192:{org}"}
    ref = (("externalRef", external_ref),) if external_ref is not None else ()
    return AuthorizationDetail(SYSTEMUSER_TYPE, (("systemuser_org", party), *ref))


def consent_detail(consent_id: str, giver: str) -> AuthorizationDetail:
    """The consent ``consent_id`` given by ``giver`` (``urn:altinn:person:identifier-no:...``)."""
    return AuthorizationDetail(CONSENT_TYPE, (("id", consent_id), ("from", giver)))


def authorization_details_in(
    specified: Sequence[AuthorizationDetailSpec] | None,
) -> tuple[AuthorizationDetail, ...]:
    """The grant's details for the spec's ``authorizationDetails``: what the operator and
    ``token --from-cluster`` both send."""
    return tuple(_detail(detail) for detail in specified or ())


def _detail(spec: AuthorizationDetailSpec) -> AuthorizationDetail:
    if spec.type == SYSTEMUSER_TYPE and spec.systemuser_org is not None:
        return systemuser_detail(spec.systemuser_org, spec.external_ref)
    if spec.type == CONSENT_TYPE and spec.id is not None and spec.from_ is not None:
        return consent_detail(spec.id, spec.from_)
    return AuthorizationDetail(spec.type)


@dataclass(frozen=True)
class GrantClaims:
    """What a grant asks for; the client key and the time are supplied when signing.

    ``resource``: one audience or several, sent as an array either way: the form Digdir
    documents ("currently only array supported"; ``docs/maskinporten-facts.md``, "The JWT
    grant").
    ``consumer_org``: the organisation to act for (Altinn delegation).
    ``system_user_org``: the organisation whose Altinn system user to act as (one per request),
    sent as ``authorization_details``; ``authorization_details``: further details (a consent,
    a system user with its ``externalRef``).
    """

    client_id: str
    audience: str
    scopes: tuple[str, ...]
    resource: str | Sequence[str] | None = None
    consumer_org: str | None = None
    system_user_org: str | None = None
    authorization_details: tuple[AuthorizationDetail, ...] = ()

    @property
    def details(self) -> tuple[AuthorizationDetail, ...]:
        """Every authorization detail sent: the system user shorthand's, then the others."""
        shorthand = (
            () if self.system_user_org is None else (systemuser_detail(self.system_user_org),)
        )
        return (*shorthand, *self.authorization_details)

    def __post_init__(self) -> None:
        if self.resource is not None and not isinstance(self.resource, str):
            resources = tuple(self.resource)
            if not resources or not all(isinstance(r, str) and r for r in resources):
                raise ValueError("resource must be a non-empty string or list of them")
            object.__setattr__(self, "resource", resources)
        for name in ("consumer_org", "system_user_org"):
            value = getattr(self, name)
            if value is not None and not ORG_NUMBER.fullmatch(value):
                raise ValueError(f"{name} must be a 9-digit organisation number")

    def fingerprint_fields(self) -> tuple[str, ...]:
        resource = (
            self.resource if isinstance(self.resource, str | None) else " ".join(self.resource)
        )
        fields: tuple[str, ...] = (
            self.client_id,
            self.audience,
            " ".join(self.scopes),
            resource or "",
            self.consumer_org or "",
        )
        fields = (*fields, self.system_user_org) if self.system_user_org else fields
        if not self.authorization_details:
            return fields
        details = [detail.wire() for detail in self.authorization_details]
        return (*fields, json.dumps(details, sort_keys=True))


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
        resource = claims.resource
        payload["resource"] = [resource] if isinstance(resource, str) else list(resource)
    if claims.consumer_org is not None:
        payload["consumer_org"] = claims.consumer_org
    if claims.details:
        payload["authorization_details"] = [detail.wire() for detail in claims.details]
    return payload


def sign_grant(claims: GrantClaims, key: ClientKey, *, now: int, jti: str | None = None) -> str:
    """A compact JWS with header ``alg``, ``typ: JWT`` and ``kid`` or ``x5c`` (see the module);
    a new UUID ``jti`` unless given."""
    payload = grant_claims(claims, now=now, jti=jti or str(uuid.uuid4()))
    return jwt.encode(_header(key), payload, key.key, algorithms=[key.algorithm])


def client_assertion_claims(client_id: str, audience: str, *, now: int, jti: str) -> dict[str, Any]:
    """RFC 7523 section 3 for client authentication: ``iss`` and ``sub`` are the client id."""
    return {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + GRANT_LIFETIME_SECONDS,
        "jti": jti,
    }


def sign_client_assertion(
    client_id: str, audience: str, key: ClientKey, *, now: int, jti: str | None = None
) -> str:
    """A ``client_assertion`` for ``private_key_jwt``; ``audience`` is the server's issuer."""
    payload = client_assertion_claims(client_id, audience, now=now, jti=jti or str(uuid.uuid4()))
    return jwt.encode(_header(key), payload, key.key, algorithms=[key.algorithm])


def _header(key: ClientKey) -> dict[str, Any]:
    if key.certificate_chain:
        return {"alg": key.algorithm, "typ": "JWT", "x5c": list(key.certificate_chain)}
    return {"alg": key.algorithm, "typ": "JWT", "kid": key.kid}
