"""Rendering: a reconciliation's gathered facts as the resource's status (conditions in the
Kubernetes convention), the Events that mark a change of state, and when to try next. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from maskinporten_operator.api import CLIENT_LABEL, ClientSpec, label_value
from maskinporten_operator.reasons import EventType, Reason
from maskinporten_operator.reconcile import conditions as cond
from maskinporten_operator.reconcile import policies, secret_bodies
from maskinporten_operator.reconcile.effects import Reconciliation
from maskinporten_operator.reconcile.keys import Keys
from maskinporten_operator.reconcile.memory import ReadyState, TokenSlot
from maskinporten_operator.reconcile.registration import Registration
from maskinporten_operator.reconcile.results import NOTE_SEPARATOR, Event, Failure
from maskinporten_operator.reconcile.ring import ACTIVE, PENDING
from maskinporten_operator.reconcile.schedule import (
    KUBELET_SYNC,
    MARGIN_SECONDS,
    PROMPT_REFUSED,
    PROMPTING_OFF,
    Delivery,
    attempt_after_failure,
    keeps_margin,
)
from maskinporten_operator.rfc3339 import format_time

EXTERNAL = "External"
"""The state ``status.keys`` shows for a key registered on the client that the operator did not
add (by hand, e.g. on an adopted client); the operator keeps it and never signs with it."""


@dataclass(frozen=True)
class Outcome:
    status: dict[str, Any]
    next_attempt_at: float
    events: tuple[Event, ...]
    ready: bool
    delivery: Delivery = KUBELET_SYNC
    """The delivery the pods' tokens were judged by (exported as a metric for the alerts)."""


@dataclass
class Gathered:
    """What a reconciliation has learnt so far, rendered whether it succeeds or fails."""

    spec: ClientSpec | None = None
    keys: Keys | None = None
    registration: Registration | None = None
    certificate: dict[str, Any] = field(default_factory=dict)
    """``certificateNotAfter`` and ``certificateWarning`` (see :func:`.keys.certificate_status`)."""
    unregistered: Failure | None = None
    """Why a managed client's registration failed while tokens keep coming."""
    delivery: Delivery = KUBELET_SYNC
    """How new tokens reach the pods' files: the kubelet's own sync unless the client's pods
    are known to be prompted."""
    events: list[Event] = field(default_factory=list)

    def base_status(self, run: Reconciliation) -> dict[str, Any]:
        status: dict[str, Any] = {"observedGeneration": run.ref.generation}
        if self.spec is None:
            return status
        status["secretName"] = self.spec.workload_secret_name(run.ref.name)
        if not self.spec.managed:
            status.update(clientId=self.spec.client_id, keys=None)
        if self.keys is None:
            return status
        registration = self.registration
        signing = registration.ring.signing.key if registration else self.keys.signing
        status.update(keyId=signing.kid, publicJwk=signing.public_jwk_json())
        status.update(self.certificate)
        if registration is not None:
            status.update(registration_status(registration))
        return status

    def all_events(self) -> list[Event]:
        return [*self.events, *(self.registration.events if self.registration else ())]


def succeeded(
    run: Reconciliation,
    gathered: Gathered,
    slots: Sequence[TokenSlot],
    next_attempt_at: float,
    force_request: str | None,
) -> tuple[Outcome, ReadyState]:
    new_status = {**gathered.base_status(run), **token_status(slots), "consecutiveFailures": 0}
    if force_request is not None:
        new_status["handledForceRefresh"] = force_request
    ready = cond.Condition(
        cond.READY,
        True,
        Reason.TOKEN_ISSUED,
        f"Secret {new_status['secretName']} holds "
        + ("a token" if len(slots) == 1 else f"{len(slots)} tokens")
        + f" valid until {new_status['tokenExpiresAt']} or later",
    )
    registration = gathered.registration
    requested = registration.known.client.access_token_lifetime if registration else None
    desired = [ready, _lifetime_condition(slots, requested, gathered.delivery, run.ref.name)]
    if registration is not None:
        desired.append(registered_condition(registration, run.now))
    if gathered.unregistered is not None:
        desired.append(_unregistered_condition(gathered.unregistered))
    reported = ReadyState(True, Reason.TOKEN_ISSUED, None)
    return _outcome(run, new_status, desired, (), next_attempt_at, gathered, reported), reported


def failed(
    run: Reconciliation,
    gathered: Gathered,
    failure: Failure,
    delay: float,
    *,
    internal: bool = False,
) -> tuple[Outcome, ReadyState]:
    """Ready False with the failure and a note on the token kept meanwhile; the next attempt
    after the back-off ``delay`` (or another token's refresh). ClientRegistered: as the
    registration is (True once registered, else False with the failure); an internal error
    before anything was known of the registration leaves it as it was. LifetimeSufficient,
    which only a success updates, always stays."""
    memory, now = run.memory, run.now
    valid_until = memory.earliest_valid_expiry(now)
    next_attempt = attempt_after_failure(
        now=now, delay=delay, refreshes=[slot.plan.refresh_at for slot in memory.tokens.values()]
    )
    noted = failure.noted(_token_note(memory.earliest_expiry(), valid_until))
    new_status = {
        **{k: v for k, v in run.status.items() if k != "conditions"},
        **gathered.base_status(run),
        **(token_status(memory.tokens.values()) if memory.tokens else {}),
        "nextRefreshTime": format_time(next_attempt),
        "consecutiveFailures": memory.failures.count,
    }
    unknown = internal and gathered.registration is None and gathered.unregistered is None
    registered = None if unknown else _registered_on_failure(gathered, failure, now)
    ready = cond.Condition(cond.READY, False, failure.reason, str(noted))
    kept_types = {cond.LIFETIME_SUFFICIENT, *([cond.CLIENT_REGISTERED] if unknown else [])}
    kept = [c for c in run.status.get("conditions", []) if c.get("type") in kept_types]
    desired = [ready] if registered is None else [ready, registered]
    reported = ReadyState(False, failure.reason, failure.cause)
    return _outcome(run, new_status, desired, kept, next_attempt, gathered, reported), reported


def _registered_on_failure(
    gathered: Gathered, failure: Failure, now: float
) -> cond.Condition | None:
    """ClientRegistered after a failure; None when the resource has none."""
    if gathered.registration is not None:
        return registered_condition(gathered.registration, now)
    if gathered.unregistered is not None:
        return _unregistered_condition(gathered.unregistered)
    if gathered.spec is None or not gathered.spec.managed:
        return None
    return _unregistered_condition(failure)


def _token_note(earliest_expiry: float | None, valid_until: float | None) -> str:
    """What the workload Secret holds while requests fail: a token still valid, or one that
    has expired (kept, so that ``_EXPIRES_AT`` and the metrics show when), or nothing."""
    if valid_until is not None:
        return f"the current token stays in place until {format_time(valid_until)}"
    if earliest_expiry is None:
        return ""
    return (
        "no valid token is in place: the token in the Secret expired at "
        f"{format_time(earliest_expiry)}"
    )


def _outcome(
    run: Reconciliation,
    new_status: dict[str, Any],
    desired: Sequence[cond.Condition],
    kept: Sequence[Mapping[str, Any]],
    next_attempt_at: float,
    gathered: Gathered,
    reported: ReadyState,
) -> Outcome:
    """``desired`` conditions (Ready first) are rendered; ``kept`` ones are carried over as
    they are. One more Event when readiness, its reason or a failure's cause changed since the
    last one (see :func:`_already_reported`)."""
    existing = run.status.get("conditions", [])
    rendered = cond.render_conditions(
        desired, existing, generation=run.ref.generation, now=format_time(run.now)
    )
    new_status["conditions"] = [*rendered, *kept]
    ready = desired[0]
    events = gathered.all_events()
    if not _already_reported(reported, run.memory.reported, cond.find(existing, cond.READY)):
        kind = EventType.NORMAL if ready.status else EventType.WARNING
        events.append(Event(kind, ready.reason, ready.message))
    return Outcome(new_status, next_attempt_at, tuple(events), ready.status, gathered.delivery)


def _already_reported(
    state: ReadyState, reported: ReadyState | None, previous: Mapping[str, Any]
) -> bool:
    """Whether ``state`` is what the last readiness Event marked: ``reported`` as remembered,
    or, after a restart, the Ready condition as last written (its message is the cause, or the
    cause and a note)."""
    if reported is not None:
        return reported == state
    if (previous.get("status") == "True", previous.get("reason")) != (state.ready, state.reason):
        return False
    message = previous.get("message", "")
    cause = state.cause
    return cause is None or message == cause or message.startswith(cause + NOTE_SEPARATOR)


def token_status(slots: Iterable[TokenSlot]) -> dict[str, Any]:
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
            "secretKey": secret_bodies.token_key(slot.token.name),
            "expiresAt": format_time(slot.token.expires_at),
            "nextRefreshTime": format_time(slot.plan.refresh_at),
        }
        for slot in named
    ] or None  # None removes an earlier list: a merge patch keeps what it does not mention
    return status


def _lifetime_condition(
    slots: Sequence[TokenSlot], requested: int | None, delivery: Delivery, name: str
) -> cond.Condition:
    """Whether a pod reading the mounted Secret file keeps ``MARGIN_SECONDS`` of every token
    when the next one reaches it through ``delivery`` (:func:`.schedule.keeps_margin`);
    ``requested`` is the lifetime registered on a managed client, named when Maskinporten
    grants less; ``name`` the resource's, for the pod label that prompts delivery."""
    shortest = min(round(s.token.expires_at - s.token.issued_at) for s in slots)
    capped = (
        f"; Maskinporten grants {shortest} s of the {requested} s the client asks for: an API "
        "owner's limit for a scope (at_max_age) keeps it shorter"
        if requested is not None and shortest < requested
        else ""
    )
    assumed = f"{delivery.name} (up to {delivery.seconds:g} s to a pod's file)"
    if all(
        keeps_margin(refresh_at=s.plan.refresh_at, expires_at=s.token.expires_at, delivery=delivery)
        for s in slots
    ):
        return cond.Condition(
            cond.LIFETIME_SUFFICIENT,
            True,
            Reason.LONG_ENOUGH,
            f"tokens live {shortest} s or longer: through {assumed} a pod's token has at least "
            f"{MARGIN_SECONDS:g} s left when the next one arrives{capped}",
        )
    ahead = min(round(s.token.expires_at - s.plan.refresh_at) for s in slots)
    return cond.Condition(
        cond.LIFETIME_SUFFICIENT,
        False,
        Reason.SHORTER_THAN_MOUNT_DELAY,
        f"tokens live only {shortest} s and are refreshed {ahead} s before they expire: through "
        f"{assumed} a pod reading the mounted Secret file may have less than "
        f"{MARGIN_SECONDS:g} s left on its token, or an expired one; "
        f"{_remedies(delivery, name)}{capped}",
    )


def _remedies(delivery: Delivery, name: str) -> str:
    """What gives a pod's token more time: prompted delivery unless in use (labelled pods; with
    prompting turned off, an administrator turns it on first; refused, an administrator lets
    the operator annotate the pods), a longer lifetime, an earlier refresh."""
    label = f"{CLIENT_LABEL}={label_value(name)}"
    faster = {
        KUBELET_SYNC: f"label the pods {label} for prompted delivery, ",
        PROMPTING_OFF: "have the operator's administrator turn prompting pods on "
        f"(MASKINPORTEN_OPERATOR_PROMPT_PODS) and label the pods {label}, ",
        PROMPT_REFUSED: "have the operator's administrator grant it patch on pods here (or "
        "let the admission policy allow its annotation) for prompted delivery, ",
    }.get(delivery, "")
    return f"{faster}ask for a longer token lifetime, or refresh earlier (spec.refresh)"


def registration_status(registration: Registration) -> dict[str, Any]:
    """``clientId`` and ``keys``: each of the operator's keys, its state, its registration;
    then each key registered on the client that the operator did not add (``External``)."""
    known = registration.known
    ours = {ring_key.kid: ring_key.state for ring_key in registration.ring.keys}
    if not known.accepted:
        ours = {kid: PENDING if state == ACTIVE else state for kid, state in ours.items()}
    external = {e.kid: EXTERNAL for e in known.jwks.keys if e.kid not in ours}
    keys = []
    for kid, state in {**ours, **external}.items():
        entry = known.jwks.key(kid)
        expires_at = entry.expires_at if entry is not None else None
        registered_at = policies.registered_at(known.jwks, kid)
        keys.append(
            {
                "kid": kid,
                "state": state,
                "registeredAt": format_time(registered_at) if registered_at else None,
                "expiresAt": format_time(expires_at) if expires_at else None,
            }
        )
    status: dict[str, Any] = {"clientId": registration.client_id, "keys": keys}
    if registration.handled_rotation is not None:
        status["handledRotateKey"] = registration.handled_rotation
    return status


def registered_condition(registration: Registration, now: float) -> cond.Condition:
    client = registration.known.client
    entry = registration.known.jwks.key(registration.kid)
    until = (
        f" until {format_time(entry.expires_at)}" if entry is not None and entry.expires_at else ""
    )
    pending = registration.ring.pending
    rotation = (
        ""
        if pending is None
        else f"; new key {pending.kid} is registered but Maskinporten still refuses grants "
        "signed with it after Digdir's propagation window (about 2 minutes): grants are "
        "signed with the current key, and the new key is tried again with back-off"
        if registration.pending_overdue_for(now) is not None
        else f"; new key {pending.kid} is registered and propagating to Maskinporten (Digdir "
        "takes up to about 2 minutes): grants are signed with the current key meanwhile"
    )
    return cond.Condition(
        cond.CLIENT_REGISTERED,
        True,
        Reason.REGISTERED,
        f"client {client.client_id} has scopes {', '.join(sorted(client.scopes))} and "
        f"key {registration.kid} registered{until}{rotation}{registration.skipped_rotation or ''}",
    )


def _unregistered_condition(failure: Failure) -> cond.Condition:
    return cond.Condition(cond.CLIENT_REGISTERED, False, failure.reason, str(failure))
