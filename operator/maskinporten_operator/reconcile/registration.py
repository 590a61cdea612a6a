"""A managed client's registration at Digdir: the client, its scopes and the operator's key.

A MaskinportenClient without ``spec.clientId`` (or with ``registration.adopt``) is a *managed
client*: the operator keeps a client at Digdir's self-service API equal to the spec
(``docs/maskinporten-facts.md``, "Self-service API"):

- the client is found by ``status.clientId`` (even when its description was edited since),
  else among the organisation's clients by its ``description``
  (``maskinporten-operator:<cluster>/<namespace>/<name>``) and integration type, so that a
  lost status or a restart between create and status write never gives a second client; only
  when none is found is one created;
- its scopes equal the spec's: the operator's managed-scope policy is checked first (nothing is
  sent to Digdir when it refuses), then the organisation's access to every scope to be added,
  so that a typo is reported by name and never leaves the client half-updated;
- the operator's key (generated into the key Secret before it is registered, so a private key
  is never lost) is in the client's key set beside every key the operator did not add; POST
  replaces the whole set, so the set is read again just before and the whole intended set sent
  (a key someone registered by hand meanwhile stays). A registered key expires a year
  after it was posted; within :data:`RENEW_BEFORE_SECONDS` of that it is posted again.

What Digdir answered is remembered, so a steady client costs no API call; after a restart,
two (the client and its key set).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from maskinporten_operator.api import ClientSpec, DeletionPolicy, parse_spec
from maskinporten_operator.credentials.keys import ClientKey
from maskinporten_operator.ports import (
    INTEGRATION_TYPE,
    MAX_KEYS,
    ClientRegistration,
    RegisteredClient,
    RegisteredJwks,
    SelfService,
    SelfServiceError,
    SelfServiceRejected,
    inaccessible_scopes,
)
from maskinporten_operator.reasons import Reason
from maskinporten_operator.reconcile import conditions as cond
from maskinporten_operator.reconcile import keyring
from maskinporten_operator.reconcile.context import (
    ACTIVE,
    PENDING,
    ClientRef,
    Dependencies,
    Event,
    Failure,
    KeyRing,
    KnownRegistration,
    Reconciliation,
)
from maskinporten_operator.reconcile.schedule import RetryPolicy, retry_delay
from maskinporten_operator.rfc3339 import format_time

T = TypeVar("T")

DESCRIPTION_PREFIX = "maskinporten-operator:"
EXTERNAL = "External"
"""The state ``status.keys`` shows for a key registered on the client that the operator did not
add (by hand, e.g. on an adopted client); the operator keeps it and never signs with it."""
KEY_LIFETIME_SECONDS = 365 * 86_400.0
"""A registered key expires this long after it was posted."""
DAY = 86_400.0
RENEW_BEFORE_SECONDS = 30 * DAY
"""A registered key is posted again when it expires within this long."""
DIGDIR_PROPAGATION_SECONDS = 120.0
"""Digdir hands a registered key to Maskinporten's token endpoint within about this long; a
pending key still refused after it is tried again with back-off, not at once."""
PROPAGATION_SECONDS = 300.0
"""After a key is registered, a refused grant is taken for propagation (Digdir: up to about 2
minutes) for this long; later, the refusal is reported as it is."""


def client_description(cluster: str, ref: ClientRef) -> str:
    """What identifies the resource's client among the organisation's."""
    return f"{DESCRIPTION_PREFIX}{cluster}/{ref.namespace}/{ref.name}"


@dataclass(frozen=True)
class Registration:
    """The managed client as it now is at Digdir, its keys, and the Events its changes gave;
    ``handled_rotation`` is the rotate-key annotation value acted on (None when none was)."""

    known: KnownRegistration
    ring: KeyRing
    events: tuple[Event, ...]
    handled_rotation: str | None = None
    skipped_rotation: str | None = None
    """Why a rotation that is due was skipped (a note for ClientRegistered), None when none was."""

    @property
    def client_id(self) -> str:
        return self.known.client.client_id

    @property
    def kid(self) -> str:
        return self.ring.signing.kid

    def propagating(self, now: float) -> bool:
        """The signing key of a new client was registered moments ago and no grant signed with
        it has been accepted yet."""
        registered_at = _registered_at(self.known.jwks, self.kid)
        return (
            not self.known.accepted
            and registered_at is not None
            and now - registered_at < PROPAGATION_SECONDS
        )

    def pending_overdue_for(self, now: float) -> float | None:
        """How long the pending key has been refused past Digdir's propagation window; None
        when there is no pending key, or its window has not passed."""
        pending = self.ring.pending
        registered_at = _registered_at(self.known.jwks, pending.kid) if pending else None
        if registered_at is None:
            return None
        overdue = now - registered_at - DIGDIR_PROPAGATION_SECONDS
        return overdue if overdue > 0 else None

    def accepted(self) -> Registration:
        return replace(self, known=replace(self.known, accepted=True))

    def rotated(self, ring: KeyRing, event: Event) -> Registration:
        return replace(self, ring=ring, events=(*self.events, event))

    def status(self) -> dict[str, Any]:
        """``clientId`` and ``keys``: each of the operator's keys, its state, its registration;
        then each key registered on the client that the operator did not add (``External``)."""
        ours = {ring_key.kid: ring_key.state for ring_key in self.ring.keys}
        if not self.known.accepted:
            ours = {kid: PENDING if state == ACTIVE else state for kid, state in ours.items()}
        external = {e.kid: EXTERNAL for e in self.known.jwks.keys if e.kid not in ours}
        keys = []
        for kid, state in {**ours, **external}.items():
            entry = self.known.jwks.key(kid)
            expires_at = entry.expires_at if entry is not None else None
            registered_at = _registered_at(self.known.jwks, kid)
            keys.append(
                {
                    "kid": kid,
                    "state": state,
                    "registeredAt": format_time(registered_at) if registered_at else None,
                    "expiresAt": format_time(expires_at) if expires_at else None,
                }
            )
        status: dict[str, Any] = {"clientId": self.client_id, "keys": keys}
        if self.handled_rotation is not None:
            status["handledRotateKey"] = self.handled_rotation
        return status

    def condition(self, now: float) -> cond.Condition:
        client = self.known.client
        entry = self.known.jwks.key(self.kid)
        until = (
            f" until {format_time(entry.expires_at)}"
            if entry is not None and entry.expires_at
            else ""
        )
        pending = self.ring.pending
        rotation = (
            ""
            if pending is None
            else f"; new key {pending.kid} is registered but Maskinporten still refuses grants "
            "signed with it after Digdir's propagation window (about 2 minutes): grants are "
            "signed with the current key, and the new key is tried again with back-off"
            if self.pending_overdue_for(now) is not None
            else f"; new key {pending.kid} is registered and propagating to Maskinporten (Digdir "
            "takes up to about 2 minutes): grants are signed with the current key meanwhile"
        )
        return cond.Condition(
            cond.CLIENT_REGISTERED,
            True,
            Reason.REGISTERED,
            f"client {client.client_id} has scopes {', '.join(sorted(client.scopes))} and "
            f"key {self.kid} registered{until}{rotation}{self.skipped_rotation or ''}",
        )


async def ensure_registered(
    run: Reconciliation, spec: ClientSpec, signing: ClientKey, rotate_request: str | None
) -> Registration:
    """Make the client at Digdir match ``spec`` and carry the operator's keys (``signing`` is
    the one grants are signed with), starting a key rotation when it is due or requested with
    ``rotate_request`` (the rotate-key annotation); raise :class:`Failure`."""
    deps, ref = run.deps, run.ref
    api = deps.self_service
    if api is None:
        raise Failure(Reason.SELF_SERVICE_NOT_CONFIGURED, deps.self_service_problem)
    refused = deps.settings.scopes_refused(ref.namespace, spec.scope_names)
    if refused:
        raise Failure(
            Reason.SCOPE_REFUSED_BY_POLICY,
            f"the operator's managed-scope policy (MASKINPORTEN_OPERATOR_MANAGED_SCOPE_POLICY) "
            f"does not let namespace {ref.namespace} request {', '.join(refused)}; nothing was "
            "sent to Digdir",
        )
    ring = await keyring.read_ring(run, spec, signing)
    events: list[Event] = []
    known = _remembered(run, spec)
    if known is None:
        client = await _find(run, spec, api)
        if client is None:
            client = await _create(run, spec, api)
            jwks = RegisteredJwks(())
            events.append(
                Event(
                    "Normal",
                    Reason.CLIENT_CREATED,
                    f"created Maskinporten client {client.client_id}",
                )
            )
        else:
            jwks = await self_service_call(api.get_jwks(client.client_id))
            if spec.client_id is not None and run.status.get("clientId") != client.client_id:
                events.append(
                    Event("Normal", Reason.CLIENT_ADOPTED, f"took over client {client.client_id}")
                )
        known = KnownRegistration(client, jwks, accepted=accepted_before(run, signing.kid))
    known, changed = await _keep_scopes(run, spec, api, known)
    events += changed
    rotation = await _rotate_if_due(run, spec, api, known, ring, rotate_request)
    run.memory.handled_rotation = rotation.handled
    ring, known = rotation.ring, rotation.known
    known, registered = await _keep_keys(run, api, known, ring, just_read=rotation.read_keys)
    events += registered
    run.memory.registration = known
    removed = ring.due_for_removal(run.now)
    if removed:
        ring = await keyring.remove(run, spec, ring, removed)
    return Registration(known, ring, tuple(events), rotation.handled, rotation.skipped)


@dataclass(frozen=True)
class _Rotation:
    """What :func:`_rotate_if_due` decided: the ring (with a new pending key when a rotation
    started), the registration (its key set read again when a rotation was due), the
    rotate-key request handled, and why a due rotation was skipped (None when none was)."""

    ring: KeyRing
    known: KnownRegistration
    handled: str | None
    skipped: str | None = None
    read_keys: bool = False
    """Whether the key set in ``known`` was read just now."""


async def _rotate_if_due(
    run: Reconciliation,
    spec: ClientSpec,
    api: SelfService,
    known: KnownRegistration,
    ring: KeyRing,
    rotate_request: str | None,
) -> _Rotation:
    """A new (pending) key beside the signing one when ``keyRotationDays`` have passed since it
    became the signing key, or on a new rotate-key request; not while one is pending, nor
    before the signing key of a new client has been accepted, nor (with a note saying why, for
    the ClientRegistered condition) when the client's key set has no room for one. The key set
    is read again before deciding there is room: keys may have been registered by hand since
    it was last read, and POST replaces the whole set."""
    before = run.memory.handled_rotation or run.status.get("handledRotateKey")
    requested = rotate_request is not None and rotate_request != before
    handled = rotate_request if requested else before
    if ring.pending is not None:
        return _Rotation(ring, known, handled)
    if not known.accepted:
        return _Rotation(ring, known, before)
    signing = ring.signing
    since = signing.activated_at or _registered_at(known.jwks, signing.kid)
    period = spec.registration_or_default.key_rotation_days * DAY
    scheduled = since is not None and run.now >= since + period
    if not (requested or scheduled):
        return _Rotation(ring, known, handled)
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
        return _Rotation(ring, known, before, skipped, read_keys=True)
    pending = await keyring.add_pending(run, spec, ring)
    return _Rotation(pending, known, handled, read_keys=True)


def _remembered(run: Reconciliation, spec: ClientSpec) -> KnownRegistration | None:
    known = run.memory.registration
    if known is None:
        return None
    wanted = spec.client_id or run.status.get("clientId") or known.client.client_id
    return known if known.client.client_id == wanted else None


def accepted_before(run: Reconciliation, kid: str) -> bool:
    """Whether the status says a grant signed with ``kid`` was accepted (before a restart)."""
    keys = run.status.get("keys") or []
    return any(entry.get("kid") == kid and entry.get("state") == ACTIVE for entry in keys)


async def _find(run: Reconciliation, spec: ClientSpec, api: SelfService) -> RegisteredClient | None:
    """The adopted client, the one ``status.clientId`` names (whatever its description now
    says), or the one whose description is this resource's; None when there is none to take."""
    ref, settings = run.ref, run.deps.settings
    ours = client_description(settings.cluster_name, ref)
    wanted = spec.client_id or run.status.get("clientId")
    if wanted:
        client = await _client_or_none(api, wanted)
        if spec.client_id is not None:
            if client is None:
                raise Failure(
                    Reason.CLIENT_CONFLICT,
                    f"client {wanted} (spec.clientId, registration.adopt) is not among the "
                    "organisation's clients at Digdir",
                )
            return _usable(client)
        if client is not None:  # even when its description was edited: never a second one
            return _usable(client)
    clients = await self_service_call(api.list_clients())
    found = sorted(
        (c for c in clients if c.description == ours and c.integration_type == INTEGRATION_TYPE),
        key=lambda c: c.client_id,
    )
    return found[0] if found else None


async def _client_or_none(api: SelfService, client_id: str) -> RegisteredClient | None:
    """The client ``client_id`` names; None when Digdir has none (404); raise :class:`Failure`
    on any other error."""
    try:
        return await api.get_client(client_id)
    except SelfServiceRejected as error:
        if error.status != 404:
            raise _failure(error) from None
        return None
    except SelfServiceError as error:
        raise _failure(error) from None


def _usable(client: RegisteredClient) -> RegisteredClient:
    if client.integration_type != INTEGRATION_TYPE:
        raise Failure(
            Reason.CLIENT_CONFLICT,
            f"client {client.client_id} is a {client.integration_type or 'non-Maskinporten'} "
            f"client, not a {INTEGRATION_TYPE} one; integration types cannot be changed",
        )
    return client


def _wanted(
    run: Reconciliation, spec: ClientSpec, client: RegisteredClient | None
) -> ClientRegistration:
    """The client as the spec wants it; an adopted client keeps its name and description
    unless ``registration.clientName`` is given."""
    ref = run.ref
    name = spec.registration_or_default.client_name
    if spec.client_id is not None and client is not None:
        return ClientRegistration(
            name or client.client_name or f"{ref.namespace}/{ref.name}",
            client.description or client_description(run.deps.settings.cluster_name, ref),
            spec.scope_names,
        )
    return ClientRegistration(
        name or f"{ref.namespace}/{ref.name}",
        client_description(run.deps.settings.cluster_name, ref),
        spec.scope_names,
    )


async def _check_access(api: SelfService, scopes: Sequence[str], unchanged: str) -> None:
    if not scopes:
        return
    access = await self_service_call(api.accessible_scopes())
    missing = inaccessible_scopes(scopes, access)
    if missing:
        raise Failure(
            Reason.SCOPE_NOT_ACCESSIBLE,
            f"the organisation may not put {', '.join(missing)} on a client (not among the "
            f"scopes Digdir's self-service API lists as accessible to it); {unchanged}",
        )


async def _create(run: Reconciliation, spec: ClientSpec, api: SelfService) -> RegisteredClient:
    wanted = _wanted(run, spec, None)
    await _check_access(api, wanted.scopes, "no client was created")
    return await self_service_call(api.create_client(wanted))


async def _keep_scopes(
    run: Reconciliation, spec: ClientSpec, api: SelfService, known: KnownRegistration
) -> tuple[KnownRegistration, list[Event]]:
    client = known.client
    wanted = _wanted(run, spec, client)
    if (set(client.scopes), client.client_name, client.description) == (
        set(wanted.scopes),
        wanted.client_name,
        wanted.description,
    ):
        return known, []
    added = [scope for scope in wanted.scopes if scope not in client.scopes]
    await _check_access(api, added, f"client {client.client_id} was left unchanged")
    updated = await self_service_call(api.update_client(client.client_id, wanted))
    events = []
    if set(updated.scopes) != set(client.scopes):
        events.append(
            Event(
                "Normal",
                Reason.SCOPES_UPDATED,
                f"client {client.client_id} now has scopes {', '.join(sorted(updated.scopes))}",
            )
        )
    return replace(known, client=updated), events


async def _keep_keys(
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
    client_id, now = known.client.client_id, run.now
    removed = {k.kid for k in ring.due_for_removal(now)}
    wanted = [k for k in ring.keys if k.kid not in removed]
    missing = [k.kid for k in wanted if known.jwks.key(k.kid) is None]
    renewed = [
        k.kid
        for k in wanted
        if (entry := known.jwks.key(k.kid)) is not None
        and entry.expires_at is not None
        and entry.expires_at - now <= RENEW_BEFORE_SECONDS
    ]
    stale = [kid for kid in removed if known.jwks.key(kid) is not None]
    if not (missing or renewed or stale):
        return known, []
    current = known.jwks if just_read else await self_service_call(api.get_jwks(client_id))
    others = _others(current, ring)
    if len(others) + len(wanted) > MAX_KEYS:
        raise Failure(
            Reason.CLIENT_CONFLICT,
            f"client {client_id} would need {len(others) + len(wanted)} keys, more than the "
            f"{MAX_KEYS} Digdir allows: {len(others)} of them were not added by the operator; "
            "remove one that is no longer used (by hand)",
        )
    keys = [*others, *(k.key.public_jwk() for k in wanted)]
    jwks = await self_service_call(api.replace_jwks(client_id, keys))
    events = [
        Event("Normal", Reason.KEY_REGISTERED, f"{verb} key {kid} on client {client_id}{until}")
        for verb, kids in (("registered", missing), ("renewed", renewed))
        for kid in kids
        for until in [_until(jwks, kid)]
    ] + [
        Event("Normal", Reason.KEY_REMOVED, f"removed retired key {kid} from client {client_id}")
        for kid in stale
    ]
    signing_new = ring.signing.kid in missing
    return replace(known, jwks=jwks, accepted=known.accepted and not signing_new), events


def _others(jwks: RegisteredJwks, ring: KeyRing) -> list[Mapping[str, Any]]:
    """The public JWKs of the registered keys the operator did not add."""
    ours = {k.kid for k in ring.keys}
    return [entry.jwk for entry in jwks.keys if entry.kid not in ours]


def _until(jwks: RegisteredJwks, kid: str) -> str:
    entry = jwks.key(kid)
    return f" until {format_time(entry.expires_at)}" if entry and entry.expires_at else ""


def _registered_at(jwks: RegisteredJwks, kid: str) -> float | None:
    entry = jwks.key(kid)
    if entry is None or entry.expires_at is None:
        return None
    return entry.expires_at - KEY_LIFETIME_SECONDS


async def self_service_call(call: Awaitable[T]) -> T:
    """Await a self-service API call; its :class:`SelfServiceError` becomes a :class:`Failure`
    with the same reason and the API's own text."""
    try:
        return await call
    except SelfServiceError as error:
        raise _failure(error) from None


def _failure(error: SelfServiceError) -> Failure:
    return Failure(Reason(error.reason), str(error))


async def delete_client(
    ref: ClientRef, raw_spec: Mapping[str, Any], status: Mapping[str, Any], deps: Dependencies
) -> Event | None:
    """When a managed resource is deleted: delete the client the operator created, if its
    deletion policy is ``Delete``; an adopted client (or one found by another description) is
    never deleted. An Event saying what was done (or why it was not), or None when there was
    nothing to do. Raises :class:`Failure` when the API fails (to be retried)."""
    client_id = status.get("clientId")
    try:
        spec = parse_spec(raw_spec)
    except ValueError:
        return None
    if not client_id or not spec.managed or spec.client_id is not None:
        return None
    if spec.registration_or_default.effective_deletion_policy is not DeletionPolicy.DELETE:
        return None
    api = deps.self_service
    if api is None:
        return _not_deleted(client_id, deps.self_service_problem)
    client = await _client_or_none(api, client_id)  # an unusable credential: retried
    if client is None or client.description != client_description(deps.settings.cluster_name, ref):
        return None
    await self_service_call(api.delete_client(client_id))
    return Event("Normal", Reason.CLIENT_DELETED, f"deleted Maskinporten client {client_id}")


def _not_deleted(client_id: str, problem: str) -> Event:
    """The resource goes without its client being deleted: with no admin credential configured
    at all, blocking its deletion would not bring one. A configured credential that fails (being
    rotated, expired, unreadable) blocks it instead, retried with back-off, so no client is left
    behind at Digdir by a passing problem."""
    return Event(
        "Warning",
        Reason.SELF_SERVICE_NOT_CONFIGURED,
        f"client {client_id} was not deleted at Digdir: {problem}",
    )


def deletion_retry_delay(deps: Dependencies, *, failures: int, failing_for: float) -> float:
    """Seconds until a failed client deletion (``failures`` in a row, the first
    ``failing_for`` seconds ago) is tried again: the back-off of every other failure (the retry
    base doubling, at most the retry maximum and half the time spent failing, with jitter). No
    token is at stake, so neither the short wait while none is valid nor a token's expiry
    shortens it."""
    settings = deps.settings
    return retry_delay(
        consecutive_failures=failures,
        policy=RetryPolicy(settings.retry_base_seconds, settings.retry_max_seconds),
        rng=deps.rng,
        now=deps.clock(),
        valid_token_expires_at=math.inf,
        failing_for=failing_for,
    )
