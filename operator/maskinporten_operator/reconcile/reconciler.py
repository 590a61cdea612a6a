"""One reconciliation of a MaskinportenClient: key, tokens, workload Secret, status.

Called by each resource's loop (:mod:`maskinporten_operator.runtime.loop`); everything it
needs arrives as arguments, so a reconciliation can be reasoned about without kopf.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from maskinporten_operator.api import (
    FORCE_REFRESH_ANNOTATION,
    ROTATE_KEY_ANNOTATION,
    ClientSpec,
    InvalidSpecError,
    parse_spec,
)
from maskinporten_operator.credentials.keys import ClientKey
from maskinporten_operator.oauth.server_model import ServerMetadata
from maskinporten_operator.reasons import Reason
from maskinporten_operator.reconcile import conditions as cond
from maskinporten_operator.reconcile import keyring, workload
from maskinporten_operator.reconcile.context import (
    ClientMemory,
    ClientRef,
    Dependencies,
    Event,
    Failure,
    Reconciliation,
    TokenSlot,
    auth_call,
)
from maskinporten_operator.reconcile.keysupply import certificate_status, ensure_key
from maskinporten_operator.reconcile.registration import (
    Registration,
    accepted_before,
    ensure_registered,
)
from maskinporten_operator.reconcile.schedule import (
    MOUNT_DELAY_SECONDS,
    RetryPolicy,
    attempt_after_failure,
    retry_delay,
)
from maskinporten_operator.reconcile.tokensupply import keep_tokens, obtain_tokens, supply_tokens
from maskinporten_operator.rfc3339 import format_time
from maskinporten_operator.settings import Settings

logger = logging.getLogger(__name__)

NOTE_SEPARATOR = " — "
"""Separates a failure's cause from the note on the token the Secret holds meanwhile."""


@dataclass(frozen=True)
class Outcome:
    status: dict[str, Any]
    next_attempt_at: float
    events: tuple[Event, ...]
    ready: bool


async def reconcile(
    ref: ClientRef,
    raw_spec: Mapping[str, Any],
    status: Mapping[str, Any],
    annotations: Mapping[str, str],
    memory: ClientMemory,
    deps: Dependencies,
) -> Outcome:
    force_request = annotations.get(FORCE_REFRESH_ANNOTATION)
    run = Reconciliation(
        ref=ref,
        status=status,
        memory=memory,
        deps=deps,
        now=deps.clock(),
        forced=force_request is not None and force_request != status.get("handledForceRefresh"),
    )
    base_status: dict[str, Any] = {"observedGeneration": ref.generation}
    events: list[Event] = []
    managed = False
    registration: Registration | None = None
    unregistered: Failure | None = None
    try:
        spec = _parse(raw_spec, deps.settings, ref.name)
        managed = spec.managed
        base_status["secretName"] = spec.workload_secret_name(ref.name)
        if not managed:
            base_status.update(clientId=spec.client_id, keys=None)
        key, generated = await ensure_key(run, spec)
        events += [generated] if generated else []
        base_status.update(keyId=key.kid, publicJwk=key.public_jwk_json())
        certificate, expiring = certificate_status(key, status, run.now)
        events += [expiring] if expiring else []
        base_status.update(certificate)
        if managed:
            registration, unregistered = await _register(
                run, spec, key, annotations.get(ROTATE_KEY_ANNOTATION)
            )
        if registration is not None:
            base_status.update(registration.status())
        metadata = await auth_call(deps.auth.metadata(deps.settings.issuer_for(spec.issuer)))
        if registration is not None and registration.ring.pending is not None:
            slots, registration = await _try_pending(run, spec, metadata, registration)
            key = registration.ring.signing.key
            base_status.update(keyId=key.kid, publicJwk=key.public_jwk_json())
        else:
            slots = await _supply(run, spec, key, metadata, registration)
    except Failure as failure:
        registered = _registered_condition(managed, registration, unregistered or failure, run.now)
        if registration is not None:
            events += registration.events
            base_status.update(registration.status())
        return _failed(run, failure, base_status, events, registered)
    except Exception as error:  # the last resort: no exception may end a resource's loop
        logger.error(
            "unexpected %s reconciling %s/%s, at:\n%s",
            type(error).__name__,
            ref.namespace,
            ref.name,
            "".join(traceback.format_tb(error.__traceback__)),
        )
        internal = Failure(
            Reason.INTERNAL_ERROR,
            f"unexpected {type(error).__name__} in the operator (its log has where); "
            "retried with back-off",
        )
        if registration is not None:
            events += registration.events
            base_status.update(registration.status())
            registered = registration.condition(run.now)
        elif unregistered is not None:
            registered = _unregistered_condition(unregistered)
        else:  # nothing is known of the registration yet: ClientRegistered stays as it was
            return _failed(run, internal, base_status, events, None, unknown=True)
        return _failed(run, internal, base_status, events, registered)
    memory.consecutive_failures = 0
    memory.failing_since = None
    next_refresh = min(slot.plan.refresh_at for slot in slots)
    if registration is not None:
        registration = registration.accepted()
        memory.registration = registration.known
        events += registration.events
        base_status.update(registration.status())
        next_refresh = min(next_refresh, _key_work_at(run, registration))
    new_status = {**base_status, **_token_status(slots), "consecutiveFailures": 0}
    if force_request is not None:
        new_status["handledForceRefresh"] = force_request
    ready = cond.Condition(
        cond.READY,
        True,
        Reason.TOKEN_ISSUED,
        f"Secret {base_status['secretName']} holds "
        + ("a token" if len(slots) == 1 else f"{len(slots)} tokens")
        + f" valid until {new_status['tokenExpiresAt']} or later",
    )
    desired = [ready, _lifetime_condition(slots)]
    if registration is not None:
        desired.append(registration.condition(run.now))
    if unregistered is not None:
        desired.append(_unregistered_condition(unregistered))
        next_refresh = min(next_refresh, _registration_retry_at(run))
    return _outcome(run, new_status, desired, (), next_refresh, events)


async def _register(
    run: Reconciliation, spec: ClientSpec, key: ClientKey, rotate_request: str | None
) -> tuple[Registration | None, Failure | None]:
    """The managed client's registration; or, when it fails for a client whose id and signing
    key (``key``, accepted by Maskinporten before) are known, no registration and the failure,
    so that tokens keep coming while only the registration waits for its retry."""
    memory = run.memory
    try:
        registration = await ensure_registered(run, spec, key, rotate_request)
    except Failure as failure:
        if _known_client_id(run, spec) is None or not accepted_before(run, key.kid):
            raise
        memory.registration_failures += 1
        if memory.registration_failing_since is None:
            memory.registration_failing_since = run.now
        return None, Failure(
            failure.reason,
            f"{failure}{NOTE_SEPARATOR}tokens are still requested for client "
            f"{run.status['clientId']} with key {key.kid}, which Maskinporten accepted before",
        )
    memory.registration_failures = 0
    memory.registration_failing_since = None
    return registration, None


def _known_client_id(run: Reconciliation, spec: ClientSpec) -> str | None:
    """The managed client's id from the status, unless the spec now names another client."""
    known = run.status.get("clientId")
    if not known or (spec.client_id is not None and spec.client_id != known):
        return None
    return str(known)


def _registration_retry_at(run: Reconciliation) -> float:
    """When a failed registration is tried again, with back-off of its own."""
    memory, settings = run.memory, run.deps.settings
    failing_since = memory.registration_failing_since
    delay = retry_delay(
        consecutive_failures=memory.registration_failures,
        policy=RetryPolicy(settings.retry_base_seconds, settings.retry_max_seconds),
        rng=run.deps.rng,
        now=run.now,
        valid_token_expires_at=memory.earliest_valid_expiry(run.now),
        failing_for=run.now - failing_since if failing_since is not None else 0.0,
    )
    return run.now + delay


async def _supply(
    run: Reconciliation,
    spec: ClientSpec,
    key: ClientKey,
    metadata: ServerMetadata,
    registration: Registration | None,
) -> tuple[TokenSlot, ...]:
    """Tokens; a grant refused just after the key was registered is reported as propagation.
    Without a registration, a managed client's tokens are requested with its known id."""
    client_id = (
        registration.client_id
        if registration is not None
        else spec.client_id or _known_client_id(run, spec)
    )
    assert client_id is not None, "a managed client has a registration or a known client id"
    try:
        return await supply_tokens(run.supplying(spec, client_id, key, metadata))
    except Failure as failure:
        if (
            registration is None
            or failure.reason is not Reason.TOKEN_REQUEST_REJECTED
            or not registration.propagating(run.now)
        ):
            raise
        raise Failure(
            Reason.REGISTRATION_PROPAGATING,
            f"key {registration.kid} was registered on client {registration.client_id} moments "
            "ago and Maskinporten does not accept it yet (Digdir takes up to about 2 minutes); "
            f"retrying ({failure})",
        ) from None


async def _try_pending(
    run: Reconciliation, spec: ClientSpec, metadata: ServerMetadata, registration: Registration
) -> tuple[tuple[TokenSlot, ...], Registration]:
    """During a rotation: tokens with the pending key once Maskinporten accepts it, which makes
    it the signing key; until then (its registration propagating), with the current key. The
    pending key's tokens are obtained without writing anything: the workload Secret gets them
    (and, with ``includeClientJwk``, the new key) only once the key is promoted."""
    ring = registration.ring
    pending = ring.pending
    assert pending is not None
    trial = run.supplying(spec, registration.client_id, pending.key, metadata)
    obtained = await obtain_tokens(trial)
    if obtained.failures:
        failure = obtained.failures[0]
        if failure.reason is not Reason.TOKEN_REQUEST_REJECTED:
            raise failure
        if registration.pending_overdue_for(run.now) is not None:
            run.memory.pending_refusals += 1
        slots = await supply_tokens(
            run.supplying(spec, registration.client_id, ring.signing.key, metadata)
        )
        return slots, registration
    previous = ring.signing.kid
    lifetime = max(slot.token.expires_at - slot.token.issued_at for slot in obtained.slots.values())
    retire_after = run.now + lifetime + (MOUNT_DELAY_SECONDS if spec.include_client_jwk else 0.0)
    ring = await keyring.promote(run, spec, ring, retire_after=retire_after)
    run.memory.pending_refusals = 0
    slots = await keep_tokens(trial, obtained)
    rotated = Event(
        "Normal",
        Reason.KEY_ROTATED,
        f"grants are now signed with key {pending.kid}; key {previous} is retiring and will be "
        f"removed from client {registration.client_id} after {format_time(retire_after)}",
    )
    return slots, registration.rotated(ring, rotated)


def _key_work_at(run: Reconciliation, registration: Registration) -> float:
    """When key work is next due: trying a pending key again (soon while it propagates, with
    back-off once Digdir's propagation window has passed), or removing a retired one."""
    ring = registration.ring
    overdue_for = registration.pending_overdue_for(run.now)
    soon = (
        []
        if ring.pending is None
        else [run.now + run.deps.settings.retry_base_seconds]
        if overdue_for is None
        else [run.now + _pending_retry_delay(run, overdue_for)]
    )
    retiring = [k.retire_after for k in ring.keys if k.retire_after is not None]
    return min([*soon, *retiring], default=float("inf"))


def _pending_retry_delay(run: Reconciliation, overdue_for: float) -> float:
    """The back-off for a pending key refused ``overdue_for`` seconds past Digdir's window."""
    memory, settings = run.memory, run.deps.settings
    return retry_delay(
        consecutive_failures=memory.pending_refusals,
        policy=RetryPolicy(settings.retry_base_seconds, settings.retry_max_seconds),
        rng=run.deps.rng,
        now=run.now,
        valid_token_expires_at=memory.earliest_valid_expiry(run.now),
        failing_for=overdue_for,
    )


def _registered_condition(
    managed: bool, registration: Registration | None, failure: Failure, now: float
) -> cond.Condition | None:
    """ClientRegistered for a managed client: True once registered (a later step failed), else
    False with the failure."""
    if registration is not None:
        return registration.condition(now)
    if not managed:
        return None
    return _unregistered_condition(failure)


def _unregistered_condition(failure: Failure) -> cond.Condition:
    return cond.Condition(cond.CLIENT_REGISTERED, False, failure.reason, str(failure))


def _parse(raw_spec: Mapping[str, Any], settings: Settings, name: str) -> ClientSpec:
    try:
        spec = parse_spec(raw_spec)
        settings.issuer_for(spec.issuer)
    except (InvalidSpecError, ValueError) as error:
        raise Failure(Reason.INVALID_SPEC, str(error)) from None
    secret_name = spec.workload_secret_name(name)
    if secret_name == spec.key_secret_name(name):  # a default on one side: no CRD rule sees it
        raise Failure(
            Reason.INVALID_SPEC,
            f"the workload Secret and the key Secret would both be {secret_name}: the token "
            "would overwrite the key; set spec.secretName or spec.key.secretName to another name",
        )
    return spec


def _token_status(slots: Iterable[TokenSlot]) -> dict[str, Any]:
    """Status of the token that expires first (what matters to a reader of ``kubectl get``),
    and a per-token list when the spec asks for several."""
    ordered = sorted(slots, key=lambda slot: slot.token.expires_at)
    first = ordered[0]
    status: dict[str, Any] = {
        "tokenExpiresAt": format_time(first.token.expires_at),
        "tokenLifetimeSeconds": round(first.token.expires_at - first.token.issued_at),
        "lastRefreshTime": format_time(max(s.token.issued_at for s in ordered)),
        "nextRefreshTime": format_time(min(s.plan.refresh_at for s in ordered)),
    }
    named = sorted((slot for slot in ordered if slot.token.name), key=lambda s: s.token.name)
    status["tokens"] = [
        {
            "name": slot.token.name,
            "secretKey": workload.token_key(slot.token.name),
            "expiresAt": format_time(slot.token.expires_at),
            "nextRefreshTime": format_time(slot.plan.refresh_at),
        }
        for slot in named
    ] or None  # None removes an earlier list: a merge patch keeps what it does not mention
    return status


def _lifetime_condition(slots: Iterable[TokenSlot]) -> cond.Condition:
    shortest = min(round(s.token.expires_at - s.token.issued_at) for s in slots)
    if all(slot.plan.lifetime_is_safe for slot in slots):
        return cond.Condition(
            cond.LIFETIME_SUFFICIENT,
            True,
            Reason.LONG_ENOUGH,
            f"tokens live {shortest} s or longer",
        )
    return cond.Condition(
        cond.LIFETIME_SUFFICIENT,
        False,
        Reason.SHORTER_THAN_MOUNT_DELAY,
        f"tokens live only {shortest} s: a pod reading the mounted Secret file (updated up to "
        "~2 minutes late) may read an expired token; request tokens in the app instead, or "
        "ask the API owner for a longer token lifetime",
    )


def _failed(
    run: Reconciliation,
    failure: Failure,
    base_status: Mapping[str, Any],
    events: Sequence[Event],
    registered: cond.Condition | None,
    *,
    unknown: bool = False,
) -> Outcome:
    """``registered`` is ClientRegistered (None: the resource has none); with ``unknown``, the
    failure came before anything was known of the registration, and the ClientRegistered
    condition stays as it was. LifetimeSufficient, which only a success updates, always
    stays."""
    memory, settings, now = run.memory, run.deps.settings, run.now
    memory.consecutive_failures += 1
    if memory.failing_since is None:
        memory.failing_since = now
    valid_until = memory.earliest_valid_expiry(now)
    delay = retry_delay(
        consecutive_failures=memory.consecutive_failures,
        policy=RetryPolicy(settings.retry_base_seconds, settings.retry_max_seconds),
        rng=run.deps.rng,
        now=now,
        valid_token_expires_at=valid_until,
        failing_for=now - memory.failing_since,
    )
    next_attempt = attempt_after_failure(
        now=now, delay=delay, refreshes=[slot.plan.refresh_at for slot in memory.tokens.values()]
    )
    message = str(failure) + _token_note(memory, valid_until)
    new_status = {
        **{k: v for k, v in run.status.items() if k != "conditions"},
        **base_status,
        **(_token_status(memory.tokens.values()) if memory.tokens else {}),
        "nextRefreshTime": format_time(next_attempt),
        "consecutiveFailures": memory.consecutive_failures,
    }
    ready = cond.Condition(cond.READY, False, failure.reason, message)
    existing = run.status.get("conditions", [])
    kept_types = {cond.LIFETIME_SUFFICIENT, *([cond.CLIENT_REGISTERED] if unknown else [])}
    kept = [c for c in existing if c.get("type") in kept_types]
    desired = [ready] if registered is None else [ready, registered]
    return _outcome(run, new_status, desired, kept, next_attempt, events)


def _token_note(memory: ClientMemory, valid_until: float | None) -> str:
    """What the workload Secret holds while requests fail: a token still valid, or one that
    has expired (kept, so that ``_EXPIRES_AT`` and the metrics show when), or nothing."""
    if valid_until is not None:
        return f"{NOTE_SEPARATOR}the current token stays in place until {format_time(valid_until)}"
    expired = memory.earliest_expiry()
    if expired is None:
        return ""
    return (
        f"{NOTE_SEPARATOR}no valid token is in place: the token in the Secret expired at "
        f"{format_time(expired)}"
    )


def _outcome(
    run: Reconciliation,
    new_status: dict[str, Any],
    desired: Sequence[cond.Condition],
    kept: Sequence[Mapping[str, Any]],
    next_attempt_at: float,
    events: Sequence[Event],
) -> Outcome:
    """``desired`` conditions (Ready first) are rendered; ``kept`` ones are carried over as
    they are. One more Event when the state changes (see :func:`_state`)."""
    existing = run.status.get("conditions", [])
    previous = cond.find(existing, cond.READY)
    rendered = cond.render_conditions(
        desired, existing, generation=run.ref.generation, now=format_time(run.now)
    )
    new_status["conditions"] = [*rendered, *kept]
    ready = desired[0]
    before = _state(
        previous.get("status") == "True", previous.get("reason"), previous.get("message", "")
    )
    if before != _state(ready.status, ready.reason, ready.message):
        kind = "Normal" if ready.status else "Warning"
        events = [*events, Event(kind, ready.reason, ready.message)]
    return Outcome(
        status=new_status,
        next_attempt_at=next_attempt_at,
        events=tuple(events),
        ready=ready.status,
    )


def _state(ready: bool, reason: str | None, message: str) -> tuple[bool, str | None, str | None]:
    """What an Event marks a change of: readiness, the reason, and a failure's cause (its
    message without the note on the token kept meanwhile, which moves as tokens refresh). A
    success's message (new expiry times) is routine."""
    cause = None if ready else message.partition(NOTE_SEPARATOR)[0]
    return ready, reason, cause
