"""The rules a reconciliation decides by: pure functions over gathered facts (times are Unix
seconds), each tested on its own table (``tests/unit/test_policies.py``).

Sources: Digdir's self-service API and key rules (``docs/maskinporten-facts.md``, "Keys and
clients", "Self-service API").
"""

from __future__ import annotations

from maskinporten_operator.ports import ClientRegistration, RegisteredClient, RegisteredJwks
from maskinporten_operator.reconcile.schedule import MOUNT_DELAY_SECONDS

DAY = 86_400.0
KEY_LIFETIME_SECONDS = 365 * DAY
"""A registered key expires this long after it was posted."""
RENEW_BEFORE_SECONDS = 30 * DAY
"""A registered key is posted again when it expires within this long."""
DIGDIR_PROPAGATION_SECONDS = 120.0
"""Digdir hands a registered key to Maskinporten's token endpoint within about this long; a
pending key still refused after it is tried again with back-off, not at once."""
PROPAGATION_SECONDS = 300.0
"""After a key is registered, a refused grant is taken for propagation (Digdir: up to about 2
minutes) for this long; later, the refusal is reported as it is."""


def new_request(request: str | None, handled: str | None) -> bool:
    """Whether an annotation's request (force-refresh, rotate-key) is one not handled yet."""
    return request is not None and request != handled


def token_reusable(
    *, same_request: bool, refresh_at: float | None, now: float, forced: bool
) -> bool:
    """Whether a token held is kept: asked for with the same request (fingerprint), its refresh
    not yet due, and no forced refresh. ``refresh_at`` None: no token is held."""
    return refresh_at is not None and same_request and now < refresh_at and not forced


def registered_at(jwks: RegisteredJwks, kid: str) -> float | None:
    """When key ``kid`` was (last) posted, from its registration's expiry; None when unknown."""
    entry = jwks.key(kid)
    if entry is None or entry.expires_at is None:
        return None
    return entry.expires_at - KEY_LIFETIME_SECONDS


def renewal_due(expires_at: float | None, now: float) -> bool:
    """Whether a registered key expiring at ``expires_at`` is to be posted again now."""
    return expires_at is not None and expires_at - now <= RENEW_BEFORE_SECONDS


def rotation_due(*, since: float | None, rotation_days: int, now: float) -> bool:
    """Whether ``rotation_days`` have passed since the signing key became the signing key
    (``since``; None when unknown: never due by time)."""
    return since is not None and now >= since + rotation_days * DAY


def propagating(*, accepted: bool, registered: float | None, now: float) -> bool:
    """Whether a refused grant is taken for Digdir's propagation: the signing key was registered
    ``registered`` moments ago and no grant signed with it has been accepted yet."""
    return not accepted and registered is not None and now - registered < PROPAGATION_SECONDS


def overdue_for(registered: float | None, now: float) -> float | None:
    """How long a pending key registered at ``registered`` has been refused past Digdir's
    propagation window; None when it is not past it (or unknown)."""
    if registered is None:
        return None
    overdue = now - registered - DIGDIR_PROPAGATION_SECONDS
    return overdue if overdue > 0 else None


def retire_after(*, now: float, token_lifetime: float, client_jwk_mounted: bool) -> float:
    """When a replaced key may be removed: once every token obtained with it has expired, and,
    when workloads get the private JWK, the mounted Secret has carried the new key."""
    return now + token_lifetime + (MOUNT_DELAY_SECONDS if client_jwk_mounted else 0.0)


def client_differs(client: RegisteredClient, wanted: ClientRegistration) -> bool:
    """Whether the client at Digdir differs from the spec: its scopes, name, description or
    token lifetime (unless either side leaves the lifetime unsaid)."""
    lifetimes = (client.access_token_lifetime, wanted.access_token_lifetime)
    return (set(client.scopes), client.client_name, client.description) != (
        set(wanted.scopes),
        wanted.client_name,
        wanted.description,
    ) or (None not in lifetimes and lifetimes[0] != lifetimes[1])
