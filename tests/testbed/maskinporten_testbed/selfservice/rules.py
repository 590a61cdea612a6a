"""The documented rules a client model and a JWKS must follow, checked before anything changes.

Source: ``docs/maskinporten-facts.md`` sections "Self-service API" and "Keys and clients"
(Digdir's documentation of the self-service API, of client registration and of keys). Every
violation is an :class:`~.model.ApiError` (HTTP 400) whose description names the rule.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from .model import (
    ACCESS_TOKEN_LIFETIME_RANGE,
    APPLICATION_TYPE,
    AUTH_METHOD,
    DEFAULT_ACCESS_TOKEN_LIFETIME,
    GRANT_TYPES,
    INTEGRATION_TYPE,
    MAX_KEYS,
    ClientRecord,
    invalid_metadata,
    invalid_request,
)

REQUIRED_CLIENT_FIELDS = (
    "integration_type",
    "client_name",
    "description",
    "scopes",
    "token_endpoint_auth_method",
    "grant_types",
)
_READ_ONLY_FIELDS = ("client_id", "client_orgno", "created", "last_updated", "active")
_OTHER_MODEL_FIELDS = (
    "application_type",
    "client_uri",
    "redirect_uris",
    "post_logout_redirect_uris",
    "frontchannel_logout_uri",
    "frontchannel_logout_session_required",
    "authorization_lifetime",
    "refresh_token_lifetime",
    "refresh_token_usage",
)
"""Fields of Digdir's client model that a Maskinporten client does not use: accepted, ignored."""
LIFETIME_FIELD = "access_token_lifetime"
"""Optional: the lifetime (seconds) of the client's tokens, before the scopes' caps."""
CLIENT_FIELDS = frozenset(
    (*REQUIRED_CLIENT_FIELDS, LIFETIME_FIELD, *_READ_ONLY_FIELDS, *_OTHER_MODEL_FIELDS)
)
REQUIRED_KEY_MEMBERS = ("kty", "alg", "use", "e", "n", "kid")
PRIVATE_KEY_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
KEY_SIZE = 2048
_KID = re.compile(r"^[A-Za-z0-9._-]+$")
_KEPT_KEY_MEMBERS = (*REQUIRED_KEY_MEMBERS, "x5c")


@dataclass(frozen=True)
class ClientFields:
    """A validated client model (``POST /clients`` or ``PUT /clients/{id}``)."""

    client_name: str
    description: str
    integration_type: str
    application_type: str
    token_endpoint_auth_method: str
    grant_types: tuple[str, ...]
    scopes: frozenset[str]
    access_token_lifetime: int


def client_fields(
    document: object,
    *,
    org: str,
    accessible_scopes: Collection[str],
    client_id: str | None = None,
    existing: ClientRecord | None = None,
) -> ClientFields:
    """Check a client model; ``client_id`` and ``existing`` are given for a ``PUT``.

    Raises ApiError 400 (``invalid_request`` for a malformed body, ``invalid_client_metadata``
    for a value the API refuses).
    """
    if not isinstance(document, dict):
        raise invalid_request("The body must be a JSON object (the client model)")
    unknown = sorted(document.keys() - CLIENT_FIELDS)
    if unknown:
        raise invalid_metadata(f"Unknown fields in the client model: {', '.join(unknown)}")
    _check_identity(document, org, client_id)
    missing = [name for name in REQUIRED_CLIENT_FIELDS if name not in document]
    if missing:
        raise invalid_metadata(f"Missing required fields: {', '.join(missing)}")
    integration_type = _string(document, "integration_type")
    if existing is not None and integration_type != existing.integration_type:
        raise invalid_metadata(
            f"integration_type cannot be changed after creation (it is {existing.integration_type})"
        )
    if integration_type != INTEGRATION_TYPE:
        raise invalid_metadata(
            f"integration_type must be {INTEGRATION_TYPE} (this stand-in serves Maskinporten "
            "clients only)"
        )
    application_type = document.get("application_type", APPLICATION_TYPE)
    if application_type != APPLICATION_TYPE:
        raise invalid_metadata(
            f"application_type of a Maskinporten client must be {APPLICATION_TYPE}"
        )
    auth_method = document.get("token_endpoint_auth_method")
    if auth_method != AUTH_METHOD:
        raise invalid_metadata(
            f"token_endpoint_auth_method of a Maskinporten client must be {AUTH_METHOD}"
        )
    grant_types = document.get("grant_types")
    if grant_types != list(GRANT_TYPES):
        raise invalid_metadata(f"grant_types of a Maskinporten client must be [{GRANT_TYPES[0]}]")
    return ClientFields(
        client_name=_non_empty(document, "client_name"),
        description=_non_empty(document, "description"),
        integration_type=integration_type,
        application_type=APPLICATION_TYPE,
        token_endpoint_auth_method=AUTH_METHOD,
        grant_types=GRANT_TYPES,
        scopes=_scopes(document.get("scopes"), org, accessible_scopes),
        access_token_lifetime=_lifetime(document.get(LIFETIME_FIELD)),
    )


def _check_identity(document: Mapping[str, Any], org: str, client_id: str | None) -> None:
    given = document.get("client_id")
    if client_id is None and given is not None:
        raise invalid_metadata("client_id is assigned by the server: leave it out when creating")
    if client_id is not None and given is not None and given != client_id:
        raise invalid_metadata(f"client_id in the body ({given}) differs from the path")
    orgno = document.get("client_orgno")
    if orgno is not None and orgno != org:
        raise invalid_metadata(f"client_orgno must be your organisation ({org})")


def _string(document: Mapping[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str):
        raise invalid_metadata(f"{name} must be a string")
    return value


def _non_empty(document: Mapping[str, Any], name: str) -> str:
    value = _string(document, name)
    if not value.strip():
        raise invalid_metadata(f"{name} must not be empty")
    return value


def _scopes(value: object, org: str, accessible: Collection[str]) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value):
        raise invalid_metadata("scopes must be an array of scope names")
    refused = [scope for scope in dict.fromkeys(value) if scope not in accessible]
    if refused:
        raise invalid_metadata(
            f"Organisation {org} has no access to the scope(s): {' '.join(refused)}"
        )
    return frozenset(value)


def _lifetime(value: object) -> int:
    """The model's ``access_token_lifetime``; left out (a ``PUT`` replaces the whole model,
    RFC 7592 section 2.2): the default."""
    if value is None:
        return DEFAULT_ACCESS_TOKEN_LIFETIME
    bounds = ACCESS_TOKEN_LIFETIME_RANGE
    if not isinstance(value, int) or isinstance(value, bool) or value not in bounds:
        raise invalid_metadata(
            f"{LIFETIME_FIELD} must be a whole number of seconds from {bounds.start} to "
            f"{bounds.stop - 1}"
        )
    return value


def jwks_keys(document: object, *, kids_in_use: Collection[str]) -> list[dict[str, Any]]:
    """Check a posted JWKS (``{"keys": [...]}``) and return its keys' public members.

    ``kids_in_use``: the ``kid`` of every key on every other client, of every organisation.
    A key's ``exp`` is the server's to set (one year after posting), so one sent is ignored.
    Raises ApiError 400, for an empty set too (the last key goes with a DELETE).
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise invalid_request('The body must be a JWKS: {"keys": [...]}')
    keys: list[object] = document["keys"]
    if not keys:
        raise invalid_metadata(
            "An empty key set cannot be posted: remove the last key with DELETE "
            "/clients/{client_id}/jwks"
        )
    if len(keys) > MAX_KEYS:
        raise invalid_metadata(f"A client holds at most {MAX_KEYS} keys ({len(keys)} posted)")
    checked = [_key(key, number) for number, key in enumerate(keys, start=1)]
    kids = [str(key["kid"]) for key in checked]
    repeated = sorted({kid for kid in kids if kids.count(kid) > 1})
    if repeated:
        raise invalid_metadata(f"kid repeated in the set: {', '.join(repeated)}")
    taken = [kid for kid in kids if kid in kids_in_use]
    if taken:
        raise invalid_metadata(
            f"kid already in use on another client: {', '.join(taken)}; a kid must be unique "
            "across all of Digdir's customers (prefix it, e.g. with your organisation)"
        )
    return checked


def _key(key: object, number: int) -> dict[str, Any]:
    if not isinstance(key, dict):
        raise invalid_metadata(f"Key #{number} is not a JSON object")
    name = f"key {key['kid']}" if isinstance(key.get("kid"), str) else f"key #{number}"
    private = [member for member in PRIVATE_KEY_MEMBERS if member in key]
    if private:
        raise invalid_metadata(
            f"{name} holds private key members ({', '.join(private)}): post public keys only"
        )
    missing = [member for member in REQUIRED_KEY_MEMBERS if member not in key]
    if missing:
        raise invalid_metadata(f"{name} lacks required members: {', '.join(missing)}")
    if not all(isinstance(key[member], str) for member in REQUIRED_KEY_MEMBERS):
        raise invalid_metadata(f"{name}: {', '.join(REQUIRED_KEY_MEMBERS)} must be strings")
    if not _KID.fullmatch(key["kid"]):
        raise invalid_metadata(f"key #{number}: kid may hold only letters, digits and ._-")
    if key["kty"] != "RSA" or key["alg"] != "RS256":
        raise invalid_metadata(f"{name}: only RSA keys with alg RS256 are accepted")
    if key["use"] != "sig":
        raise invalid_metadata(f"{name}: use must be sig")
    modulus, exponent = _number(key["n"], name, "n"), _number(key["e"], name, "e")
    if modulus.bit_length() != KEY_SIZE:
        raise invalid_metadata(
            f"{name} is RSA {modulus.bit_length()}; only RSA {KEY_SIZE} is accepted"
        )
    if "x5c" in key:
        _check_x5c(key["x5c"], modulus, exponent, name)
    return {member: key[member] for member in _KEPT_KEY_MEMBERS if member in key}


def _number(value: str, name: str, member: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise invalid_metadata(f"{name}: {member} is not base64url") from None
    return int.from_bytes(raw, "big")


def _check_x5c(value: object, modulus: int, exponent: int, name: str) -> None:
    """An ``x5c`` locks the key to a certificate: its leaf must hold this very key."""
    if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
        raise invalid_metadata(f"{name}: x5c must be an array of base64 DER certificates")
    try:
        leaf = x509.load_der_x509_certificate(base64.b64decode(value[0], validate=True))
    except (binascii.Error, ValueError):
        raise invalid_metadata(f"{name}: x5c holds an unreadable certificate") from None
    public = leaf.public_key()
    if not isinstance(public, rsa.RSAPublicKey) or public.public_numbers() != rsa.RSAPublicNumbers(
        exponent, modulus
    ):
        raise invalid_metadata(f"{name}: the x5c certificate is not for this key")
