"""What an authenticated client may get: scopes, audiences, delegations, system-user details."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .model import ORG_NUMBER, Client, GrantError, invalid_request

SYSTEMUSER_TYPE = "urn:altinn:systemuser"
CONSENT_TYPE = "urn:altinn:consent"
AUTHORIZATION_DETAILS_TYPES = (SYSTEMUSER_TYPE, CONSENT_TYPE)
"""What the stand-in's metadata declares as ``authorization_details_types_supported``."""
PARTY_AUTHORITY = "iso6523-actorid-upis"
_PARTY_ID = re.compile(r"^0192:[0-9]{9}$")
_CONSENT_GIVER = re.compile(r"^urn:altinn:(person|organization):identifier-no:[0-9]{9,11}$")


@dataclass(frozen=True)
class Authorization:
    scopes: tuple[str, ...]
    resources: tuple[str, ...]
    consumer_org: str | None
    """The org that delegated the scopes, when the client acts for another org."""
    authorization_details: list[dict[str, Any]] | None


def authorize(client: Client, claims: Mapping[str, Any]) -> Authorization:
    scope = claims.get("scope")
    scopes = tuple(dict.fromkeys(scope.split())) if isinstance(scope, str) else ()
    if not scopes:
        raise GrantError("invalid_scope", "MP-200", "Missing scope: at least one is required")
    consumer_org = _consumer_org(client, claims, scopes)
    if consumer_org is None:
        refused = [scope for scope in scopes if scope not in client.scopes]
        if refused:
            raise GrantError(
                "invalid_scope", "MP-201", f"Invalid scopes for client: {' '.join(refused)}"
            )
    details = claims.get("authorization_details")
    if details is not None:
        _check_details(details)
    return Authorization(scopes, _resources(client, claims.get("resource")), consumer_org, details)


def _check_details(details: object) -> None:
    """RFC 9396 details of the declared types, each at most once and of its documented shape;
    an unknown type is MP-301 (the code itself: *unverified*, ``docs/maskinporten-facts.md``)."""
    if (
        not isinstance(details, list)
        or not details
        or not all(isinstance(d, dict) for d in details)
    ):
        raise _invalid_details("MP-011", "authorization_details must be an array of objects")
    types = [detail.get("type") for detail in details]
    unknown = [str(t) for t in types if t not in AUTHORIZATION_DETAILS_TYPES]
    if unknown:
        raise _invalid_details(
            "MP-301", f"unsupported authorization_details type: {', '.join(unknown)}"
        )
    if len(types) != len(set(types)):
        raise _invalid_details("MP-011", "one authorization_details entry per type per request")
    for detail in details:
        valid = _is_systemuser(detail) if detail["type"] == SYSTEMUSER_TYPE else _is_consent(detail)
        if not valid:
            raise _invalid_details("MP-011", f"malformed {detail['type']} authorization_details")


def _invalid_details(code: str, message: str) -> GrantError:
    return GrantError("invalid_authorization_details", code, message)


def _consumer_org(client: Client, claims: Mapping[str, Any], scopes: tuple[str, ...]) -> str | None:
    onbehalfof = claims.get("iss_onbehalfof")
    if onbehalfof is not None and (not isinstance(onbehalfof, str) or not onbehalfof):
        raise invalid_request("iss_onbehalfof must be a non-empty string")
    if "consumer_org" not in claims:
        return None
    if onbehalfof is not None:
        raise invalid_request("consumer_org and iss_onbehalfof are mutually exclusive")
    consumer = claims["consumer_org"]
    if not isinstance(consumer, str) or not ORG_NUMBER.fullmatch(consumer):
        raise invalid_request("consumer_org must be a 9-digit organisation number")
    delegated = client.delegations.get(consumer, frozenset())
    refused = [scope for scope in scopes if scope not in delegated]
    if refused:
        raise GrantError(
            "invalid_scope",
            "MP-250",
            f"Consumer {consumer} has not granted access to the scope(s): {' '.join(refused)}",
        )
    return consumer


def _resources(client: Client, values: object) -> tuple[str, ...]:
    """The audiences asked for: an array of strings, the only form Digdir supports
    (``docs/maskinporten-facts.md``, "The JWT grant")."""
    if values is None:
        return ()
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise GrantError(
            "invalid_target", "MP-011", "resource must be an array of strings (only arrays)"
        )
    refused = [value for value in values if value not in client.resources]
    if refused:
        raise GrantError(
            "invalid_target", "MP-011", f"resource not allowed for client: {' '.join(refused)}"
        )
    return tuple(values)


def _is_consent(item: Mapping[str, Any]) -> bool:
    giver = item.get("from")
    return (
        item.keys() == {"type", "id", "from"}
        and isinstance(item["id"], str)
        and bool(item["id"])
        and isinstance(giver, str)
        and _CONSENT_GIVER.fullmatch(giver) is not None
    )


def _is_systemuser(item: Mapping[str, Any]) -> bool:
    party = item.get("systemuser_org")
    return (
        item.keys() <= {"type", "systemuser_org", "externalRef"}
        and item.get("type") == SYSTEMUSER_TYPE
        and isinstance(item.get("externalRef", ""), str)
        and isinstance(party, dict)
        and party.keys() == {"authority", "ID"}
        and party["authority"] == PARTY_AUTHORITY
        and isinstance(party["ID"], str)
        and _PARTY_ID.fullmatch(party["ID"]) is not None
    )
