"""A managed client's keys over time: rotation and renewal, all of it.

Rotation without a gap: a new key is generated (``Pending``) beside the ``Active`` one, stored
in the key Secret and registered; grants are signed with the ``Active`` key until one signed
with the ``Pending`` key is accepted; then the new key is ``Active`` and the old one
``Retiring`` until every token obtained with it has expired (and, when workloads get the
private JWK, the mounted Secret has carried the new key for the mount delay); only then is it
removed from the registration and from the Secret. A registered key is posted again within
:data:`~.policies.RENEW_BEFORE_SECONDS` of its one-year expiry. Sources:
``docs/maskinporten-facts.md``, "Keys and clients" and "Self-service API".
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from maskinporten_operator.api import ClientSpec
from maskinporten_operator.credentials.keys import generate_client_key
from maskinporten_operator.oauth.server_model import ServerMetadata
from maskinporten_operator.ports import MAX_KEYS, RegisteredJwks, SelfService
from maskinporten_operator.reasons import EventType, Reason
from maskinporten_operator.reconcile import policies, tokens
from maskinporten_operator.reconcile.effects import Reconciliation, kube_call, self_service_call
from maskinporten_operator.reconcile.memory import KnownRegistration
from maskinporten_operator.reconcile.results import Event, Failure
from maskinporten_operator.reconcile.ring import KeyRing, RingKey, ring_secret_body
from maskinporten_operator.rfc3339 import format_time


@dataclass(frozen=True)
class Rotation:
    """What :func:`start_if_due` decided: the ring (with a new pending key when a rotation
    started), the registration (its key set read again when a rotation was due), the
    rotate-key request handled, and why a due rotation was skipped (None when none was)."""

    ring: KeyRing
    known: KnownRegistration
    handled: str | None
    skipped: str | None = None
    read_keys: bool = False
    """Whether the key set in ``known`` was read just now."""


async def start_if_due(
    run: Reconciliation,
    spec: ClientSpec,
    api: SelfService,
    known: KnownRegistration,
    ring: KeyRing,
    rotate_request: str | None,
) -> Rotation:
    """A new (pending) key beside the signing one when ``keyRotationDays`` have passed since it
    became the signing key, or on a new rotate-key request; not while one is pending, nor
    before the signing key of a new client has been accepted, nor (with a note saying why, for
    the ClientRegistered condition) when the client's key set has no room for one. The key set
    is read again before deciding there is room: keys may have been registered by hand since
    it was last read, and POST replaces the whole set."""
    before = run.memory.handled_rotation or run.status.get("handledRotateKey")
    requested = policies.new_request(rotate_request, before)
    handled = rotate_request if requested else before
    if ring.pending is not None:
        return Rotation(ring, known, handled)
    if not known.accepted:
        return Rotation(ring, known, before)
    signing = ring.signing
    scheduled = policies.rotation_due(
        since=signing.activated_at or policies.registered_at(known.jwks, signing.kid),
        rotation_days=spec.registration_or_default.key_rotation_days,
        now=run.now,
    )
    if not (requested or scheduled):
        return Rotation(ring, known, handled)
    known = replace(known, jwks=await self_service_call(api.get_jwks(known.client.client_id)))
    others = len(_others(known.jwks, ring))
    needed = others + len(ring.keys) - len(ring.due_for_removal(run.now)) + 1
    if needed > MAX_KEYS:
        skipped = (
            f"; key rotation is due but skipped: a new key would make {needed} keys on client "
            f"{known.client.client_id}, more than the {MAX_KEYS} Digdir allows ({others} of them "
            f"were not added by the operator): grants stay signed with key {signing.kid} until "
            "one is removed by hand"
        )
        return Rotation(ring, known, before, skipped, read_keys=True)
    key = await asyncio.to_thread(generate_client_key)  # stored before anything else
    pending = await write_ring(run, spec, ring.with_pending(key))
    return Rotation(pending, known, handled, read_keys=True)


async def keep_keys(
    run: Reconciliation,
    api: SelfService,
    known: KnownRegistration,
    ring: KeyRing,
    *,
    just_read: bool,
) -> tuple[KnownRegistration, list[Event]]:
    """Make the client's key set hold every key of the ring still needed, each renewed when its
    registration expires soon, beside every key the operator did not add; without the ring's
    keys due for removal. When anything is to change: the set is read again unless ``known``
    holds it as read ``just_read`` (a key added by hand since it was last read is kept), and
    the whole set posted."""
    client_id = known.client.client_id
    changes = key_set_changes(ring, known.jwks, run.now)
    if not changes.any:
        return known, []
    current = known.jwks if just_read else await self_service_call(api.get_jwks(client_id))
    others = _others(current, ring)
    if len(others) + len(changes.wanted) > MAX_KEYS:
        raise Failure(
            Reason.CLIENT_CONFLICT,
            f"client {client_id} would need {len(others) + len(changes.wanted)} keys, more than "
            f"the {MAX_KEYS} Digdir allows: {len(others)} of them were not added by the "
            "operator; remove one that is no longer used (by hand)",
        )
    completed = [_with_use(jwk) for jwk in others]
    keys = [*completed, *(k.key.public_jwk() for k in changes.wanted)]
    jwks = await self_service_call(api.replace_jwks(client_id, keys))
    signing_new = ring.signing.kid in changes.missing
    accepted = known.accepted and not signing_new
    events = _key_events(changes, client_id, jwks) + _use_added(others, client_id)
    return replace(known, jwks=jwks, accepted=accepted), events


@dataclass(frozen=True)
class KeySetChanges:
    """What the client's key set lacks of the ring: ``wanted``, the ring's keys still needed;
    of those, ``missing`` (not registered) and ``renewed`` (registered, expiring soon); and
    ``stale``, keys due for removal that are still registered (kids)."""

    wanted: tuple[RingKey, ...]
    missing: tuple[str, ...]
    renewed: tuple[str, ...]
    stale: tuple[str, ...]

    @property
    def any(self) -> bool:
        return bool(self.missing or self.renewed or self.stale)


def key_set_changes(ring: KeyRing, jwks: RegisteredJwks, now: float) -> KeySetChanges:
    """Pure: how the registered key set ``jwks`` is to change to serve ``ring`` at ``now``."""
    removed = {k.kid for k in ring.due_for_removal(now)}
    wanted = tuple(k for k in ring.keys if k.kid not in removed)
    return KeySetChanges(
        wanted=wanted,
        missing=tuple(k.kid for k in wanted if jwks.key(k.kid) is None),
        renewed=tuple(
            k.kid
            for k in wanted
            if (entry := jwks.key(k.kid)) is not None
            and policies.renewal_due(entry.expires_at, now)
        ),
        stale=tuple(kid for kid in removed if jwks.key(kid) is not None),
    )


def _key_events(changes: KeySetChanges, client_id: str, jwks: RegisteredJwks) -> list[Event]:
    registered = [
        Event(
            EventType.NORMAL,
            Reason.KEY_REGISTERED,
            f"{verb} key {kid} on client {client_id}{_until(jwks, kid)}",
        )
        for verb, kids in (("registered", changes.missing), ("renewed", changes.renewed))
        for kid in kids
    ]
    removed = [
        Event(
            EventType.NORMAL,
            Reason.KEY_REMOVED,
            f"removed retired key {kid} from client {client_id}",
        )
        for kid in changes.stale
    ]
    return registered + removed


def _with_use(jwk: Mapping[str, Any]) -> Mapping[str, Any]:
    """``jwk`` with ``use: sig`` when it has no ``use``: keys registered before Digdir made it
    mandatory lack it, and a key set posted with such a key is refused
    (``docs/maskinporten-facts.md``, "Keys and clients")."""
    return jwk if "use" in jwk else {**jwk, "use": "sig"}


def _use_added(others: list[Mapping[str, Any]], client_id: str) -> list[Event]:
    kids = [str(jwk.get("kid")) for jwk in others if "use" not in jwk]
    if not kids:
        return []
    message = (
        f"added use: sig to key(s) {', '.join(kids)} on client {client_id}, registered before "
        "Digdir made use mandatory (May 2025), so that the key set could be posted again"
    )
    return [Event(EventType.NORMAL, Reason.KEY_USE_ADDED, message)]


async def remove_retired(run: Reconciliation, spec: ClientSpec, ring: KeyRing) -> KeyRing:
    """The ring without its keys due for removal (written only when there are any)."""
    removed = ring.due_for_removal(run.now)
    return await write_ring(run, spec, ring.without(removed)) if removed else ring


@dataclass(frozen=True)
class PendingTrial:
    """What trying the pending key gave: the tokens (obtained with the key Maskinporten
    accepted), the ring (promoted when the pending key was accepted), the Event of a
    promotion, and whether the pending key was refused past Digdir's propagation window."""

    obtained: tokens.Obtained
    ring: KeyRing
    rotated: Event | None
    refused_overdue: bool


async def try_pending(
    run: Reconciliation,
    spec: ClientSpec,
    metadata: ServerMetadata,
    client_id: str,
    ring: KeyRing,
    overdue: bool,
) -> PendingTrial:
    """During a rotation: tokens with the pending key once Maskinporten accepts it, which makes
    it the signing key; until then (its registration propagating, or ``overdue``: refused past
    Digdir's window), with the current key. The pending key's tokens are obtained without
    writing anything: the workload Secret gets them (and, with ``includeClientJwk``, the new
    key) only once the key is promoted."""
    pending = ring.pending
    assert pending is not None
    trial = await tokens.obtain(run, tokens.Request(spec, client_id, pending.key, metadata))
    if trial.failures:
        failure = trial.failures[0]
        if failure.reason is not Reason.TOKEN_REQUEST_REJECTED:
            raise failure
        current = tokens.Request(spec, client_id, ring.signing.key, metadata)
        return PendingTrial(await tokens.obtain(run, current), ring, None, refused_overdue=overdue)
    previous = ring.signing.kid
    retire_after = policies.retire_after(
        now=run.now,
        token_lifetime=max(s.token.expires_at - s.token.issued_at for s in trial.slots.values()),
        client_jwk_mounted=spec.include_client_jwk,
    )
    promoted = await write_ring(run, spec, ring.promoted(run.now, retire_after=retire_after))
    rotated = Event(
        EventType.NORMAL,
        Reason.KEY_ROTATED,
        f"grants are now signed with key {pending.kid}; key {previous} is retiring and will be "
        f"removed from client {client_id} after {format_time(retire_after)}",
    )
    return PendingTrial(trial, promoted, rotated, refused_overdue=False)


async def write_ring(run: Reconciliation, spec: ClientSpec, ring: KeyRing) -> KeyRing:
    """Replace the key Secret's ``jwk``, ``jwks`` and states with ``ring`` (only if unchanged
    since it was read and found the operator's key Secret for this resource: a conflict is
    retried with back-off, never overwritten); the ring at the version written."""
    body = ring_secret_body(spec, ring, namespace=run.ref.namespace, owner=run.ref.owner)
    stored = await kube_call(run.deps.kube.replace_secret(run.ref.namespace, body, ring.version))
    return replace(ring, version=str(stored.get("metadata", {}).get("resourceVersion", "")))


def _others(jwks: RegisteredJwks, ring: KeyRing) -> list[Mapping[str, Any]]:
    """The public JWKs of the registered keys the operator did not add."""
    ours = {k.kid for k in ring.keys}
    return [entry.jwk for entry in jwks.keys if entry.kid not in ours]


def _until(jwks: RegisteredJwks, kid: str) -> str:
    entry = jwks.key(kid)
    return f" until {format_time(entry.expires_at)}" if entry and entry.expires_at else ""
