"""A managed client deleted at Digdir with its resource, when its deletion policy says so."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from maskinporten_operator.api import DeletionPolicy, parse_spec
from maskinporten_operator.reasons import EventType, Reason
from maskinporten_operator.reconcile.client import client_description, client_or_none
from maskinporten_operator.reconcile.effects import ClientRef, Dependencies, self_service_call
from maskinporten_operator.reconcile.results import Event
from maskinporten_operator.reconcile.schedule import FailureStreak


def must_delete_at_digdir(raw_spec: Mapping[str, Any]) -> bool:
    """Whether deleting the resource must reach Digdir: a managed client the operator
    registers (no ``clientId``; an adopted client has one) with deletion policy ``Delete`` (the
    default). False for a spec that does not parse: such a resource has no client to delete."""
    try:
        spec = parse_spec(raw_spec)
    except ValueError:
        return False
    return (
        spec.client_id is None
        and spec.registration_or_default.effective_deletion_policy is DeletionPolicy.DELETE
    )


async def delete_client(
    ref: ClientRef, raw_spec: Mapping[str, Any], status: Mapping[str, Any], deps: Dependencies
) -> Event | None:
    """When a managed resource is deleted: delete the client the operator created, if its
    deletion policy is ``Delete``; an adopted client (or one found by another description) is
    never deleted. An Event saying what was done (or why it was not), or None when there was
    nothing to do. Raises :class:`~.results.Failure` when the API fails (to be retried)."""
    client_id = status.get("clientId")
    if not client_id or not must_delete_at_digdir(raw_spec):
        return None
    api = deps.self_service
    if api is None:
        return _not_deleted(client_id, deps.self_service_problem)
    client = await client_or_none(api, client_id)  # an unusable credential: retried
    if client is None or client.description != client_description(deps.settings.cluster_name, ref):
        return None
    await self_service_call(api.delete_client(client_id))
    return Event(
        EventType.NORMAL, Reason.CLIENT_DELETED, f"deleted Maskinporten client {client_id}"
    )


def _not_deleted(client_id: str, problem: str) -> Event:
    """The resource goes without its client being deleted: with no admin credential configured
    at all, blocking its deletion would not bring one. A configured credential that fails (being
    rotated, expired, unreadable) blocks it instead, retried with back-off, so no client is left
    behind at Digdir by a passing problem."""
    return Event(
        EventType.WARNING,
        Reason.SELF_SERVICE_NOT_CONFIGURED,
        f"client {client_id} was not deleted at Digdir: {problem}",
    )


def deletion_retry_delay(deps: Dependencies, *, failures: int, failing_for: float) -> float:
    """Seconds until a failed client deletion (``failures`` in a row, the first
    ``failing_for`` seconds ago) is tried again: the back-off of every other failure (the retry
    base doubling, at most the retry maximum and half the time spent failing, with jitter). No
    token is at stake, so neither the short wait while none is valid nor a token's expiry
    shortens it."""
    return FailureStreak(failures).retry_delay(
        deps.retry_policy,
        deps.rng,
        now=deps.clock(),
        valid_token_expires_at=math.inf,
        failing_for=failing_for,
    )
