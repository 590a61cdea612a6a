"""One reconciliation of a MaskinportenClient: parse → keys → registration → tokens → render.

Called by each resource's loop (:mod:`maskinporten_operator.runtime.loop`); everything it
needs arrives as arguments, so a reconciliation can be reasoned about without kopf. Each step
gathers facts and has its effects through :mod:`.effects`; the rules it decides by are pure
(:mod:`.policies`); :mod:`.rendering` renders what was gathered. This module is the one writer of
the resource's :class:`~.memory.ClientMemory`.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import Any

from maskinporten_operator.api import (
    FORCE_REFRESH_ANNOTATION,
    ROTATE_KEY_ANNOTATION,
    ClientSpec,
    InvalidSpecError,
    parse_spec,
)
from maskinporten_operator.oauth.server_model import ServerMetadata
from maskinporten_operator.reasons import Reason
from maskinporten_operator.reconcile import delivery, policies, rendering, rotation, tokens
from maskinporten_operator.reconcile.client import accepted_before, known_client_id
from maskinporten_operator.reconcile.effects import (
    ClientRef,
    Dependencies,
    Reconciliation,
    auth_call,
)
from maskinporten_operator.reconcile.keys import Keys, certificate_status, read_keys
from maskinporten_operator.reconcile.memory import ClientMemory, TokenSlot
from maskinporten_operator.reconcile.registration import Registration, ensure_registered
from maskinporten_operator.reconcile.rendering import Gathered, Outcome
from maskinporten_operator.reconcile.results import Failure
from maskinporten_operator.reconcile.schedule import PROMPTING_OFF, FailureStreak
from maskinporten_operator.settings import Settings

logger = logging.getLogger(__name__)

__all__ = ["Outcome", "reconcile"]


async def reconcile(
    ref: ClientRef,
    raw_spec: Mapping[str, Any],
    status: Mapping[str, Any],
    annotations: Mapping[str, str],
    memory: ClientMemory,
    deps: Dependencies,
) -> Outcome:
    """One reconciliation; it never raises (a failure is an outcome with a back-off)."""
    force_request = annotations.get(FORCE_REFRESH_ANNOTATION)
    handled = memory.handled_force_refresh or status.get("handledForceRefresh")
    forced = policies.new_request(force_request, handled)
    run = Reconciliation(ref, status, memory, deps, deps.clock(), forced)
    gathered = Gathered()
    try:
        spec = gathered.spec = _parse(raw_spec, deps.settings, ref.name)
        keys = await read_keys(run, spec)
        _keys_read(run, gathered, keys)
        if spec.managed:
            await _register(run, spec, gathered, annotations.get(ROTATE_KEY_ANNOTATION))
        metadata = await auth_call(deps.auth.metadata(deps.settings.issuer_for(spec.issuer)))
        slots = await _supply(run, spec, gathered, metadata)
    except Failure as failure:
        return _failed(run, gathered, failure)
    except Exception as error:  # the last resort: no exception may end a resource's loop
        return _failed(run, gathered, _internal(ref, error), internal=True)
    return _succeeded(run, gathered, slots, force_request)


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


def _keys_read(run: Reconciliation, gathered: Gathered, keys: Keys) -> None:
    run.memory.key = keys.known
    run.memory.ring = keys.ring
    gathered.keys = keys
    gathered.certificate, expiring = certificate_status(keys.signing, run.status, run.now)
    gathered.events += [event for event in (keys.generated, expiring) if event is not None]


async def _register(
    run: Reconciliation, spec: ClientSpec, gathered: Gathered, rotate_request: str | None
) -> None:
    """The managed client's registration; or, when it fails for a client whose id and signing
    key (accepted by Maskinporten before) are known, the failure as a note, so that tokens keep
    coming while only the registration waits for its retry."""
    memory, keys = run.memory, gathered.keys
    assert keys is not None, "keys are read before the registration"
    assert keys.ring is not None, "a managed client's key ring is read with its keys"
    try:
        registration = await ensure_registered(run, spec, keys.ring, rotate_request)
    except Failure as failure:
        client_id = known_client_id(run, spec)
        if client_id is None or not accepted_before(run, keys.signing.kid):
            raise
        memory.registration_failures = memory.registration_failures.recorded(run.now)
        gathered.unregistered = failure.noted(
            f"tokens are still requested for client {client_id} with key "
            f"{keys.signing.kid}, which Maskinporten accepted before"
        )
        return
    memory.registration_failures = FailureStreak()
    memory.registration, memory.ring = registration.known, registration.ring
    memory.handled_rotation = registration.handled_rotation
    gathered.registration = registration


async def _supply(
    run: Reconciliation, spec: ClientSpec, gathered: Gathered, metadata: ServerMetadata
) -> tuple[TokenSlot, ...]:
    """Tokens, written to the workload Secret; during a rotation, with the pending key once
    Maskinporten accepts it. Raises the first failure; a grant refused just after the key was
    registered is reported as propagation."""
    registration, memory = gathered.registration, run.memory
    if registration is not None and registration.ring.pending is not None:
        obtained = await _try_pending(run, spec, gathered, registration, metadata)
    else:
        client_id = registration.client_id if registration else _client_id(run, spec)
        assert gathered.keys is not None, "keys are read before tokens"
        request = tokens.Request(spec, client_id, gathered.keys.signing, metadata)
        obtained = await tokens.obtain(run, request)
    memory.tokens, memory.secret_name_taken = obtained.slots, None
    written = await tokens.write(run, obtained)
    await _deliver(run, gathered, written if obtained.renewed else None)
    if obtained.failures:
        raise _explained(obtained.failures[0], gathered.registration, run.now)
    return tuple(obtained.slots.values())


async def _deliver(run: Reconciliation, gathered: Gathered, token_version: str | None) -> None:
    """After a new token (``token_version``: the workload Secret's new resourceVersion), the
    client's labelled pods are prompted; the outcome is remembered and marked by an Event when
    it changes, and ``gathered.delivery`` says how the pods get tokens (with prompting turned
    off, ``deps.pods`` None, by the kubelet's own sync whatever their labels)."""
    pods, memory = run.deps.pods, run.memory
    if pods is None:
        gathered.delivery = PROMPTING_OFF
        return
    prompt = await delivery.prompt_pods(pods, run.ref.namespace, run.ref.name, token_version)
    gathered.events += delivery.prompt_events(memory.prompt_refused, prompt)
    memory.prompt_refused = delivery.refusal_after(memory.prompt_refused, prompt)
    gathered.delivery = delivery.delivery(prompt, memory.prompt_refused)


async def _try_pending(
    run: Reconciliation,
    spec: ClientSpec,
    gathered: Gathered,
    registration: Registration,
    metadata: ServerMetadata,
) -> tokens.Obtained:
    memory = run.memory
    overdue = registration.pending_overdue_for(run.now) is not None
    trial = await rotation.try_pending(
        run, spec, metadata, registration.client_id, registration.ring, overdue
    )
    if trial.refused_overdue:
        memory.pending_refusals = memory.pending_refusals.recorded(run.now)
    if trial.rotated is not None:
        memory.pending_refusals = FailureStreak()
        memory.ring = trial.ring
        gathered.registration = registration.rotated(trial.ring, trial.rotated)
    return trial.obtained


def _client_id(run: Reconciliation, spec: ClientSpec) -> str:
    """The spec's client id; for a managed client whose registration failed, its known id."""
    client_id = spec.client_id or known_client_id(run, spec)
    assert client_id is not None, "a managed client has a registration or a known client id"
    return client_id


def _explained(failure: Failure, registration: Registration | None, now: float) -> Failure:
    """A grant signed with a just-registered signing key and refused: Digdir's propagation
    (not during a rotation, whose new key is tried beside the accepted one)."""
    if (
        registration is None
        or registration.ring.pending is not None
        or failure.reason is not Reason.TOKEN_REQUEST_REJECTED
        or not registration.propagating(now)
    ):
        return failure
    return Failure(
        Reason.REGISTRATION_PROPAGATING,
        f"key {registration.kid} was registered on client {registration.client_id} moments "
        "ago and Maskinporten does not accept it yet (Digdir takes up to about 2 minutes); "
        f"retrying ({failure})",
    )


def _succeeded(
    run: Reconciliation,
    gathered: Gathered,
    slots: tuple[TokenSlot, ...],
    force_request: str | None,
) -> Outcome:
    """The next attempt: the first token refresh, key work, or a failed registration's retry."""
    memory = run.memory
    memory.failures = FailureStreak()
    if force_request is not None:
        memory.handled_force_refresh = force_request
    next_attempt = min(slot.plan.refresh_at for slot in slots)
    if gathered.registration is not None:
        gathered.registration = gathered.registration.accepted()
        memory.registration = gathered.registration.known
        next_attempt = min(next_attempt, _key_work_at(run, gathered.registration))
    if gathered.unregistered is not None:
        next_attempt = min(next_attempt, _registration_retry_at(run))
    outcome, memory.reported = rendering.succeeded(
        run, gathered, slots, next_attempt, force_request
    )
    return outcome


def _failed(
    run: Reconciliation, gathered: Gathered, failure: Failure, *, internal: bool = False
) -> Outcome:
    memory, deps = run.memory, run.deps
    memory.failures = memory.failures.recorded(run.now)
    if isinstance(failure, tokens.SecretNameTaken):
        memory.secret_name_taken = failure.name
    delay = memory.failures.retry_delay(
        deps.retry_policy,
        deps.rng,
        now=run.now,
        valid_token_expires_at=memory.earliest_valid_expiry(run.now),
    )
    outcome, memory.reported = rendering.failed(run, gathered, failure, delay, internal=internal)
    return outcome


def _internal(ref: ClientRef, error: Exception) -> Failure:
    logger.error(
        "unexpected %s reconciling %s/%s, at:\n%s",
        type(error).__name__,
        ref.namespace,
        ref.name,
        "".join(traceback.format_tb(error.__traceback__)),
    )
    return Failure(
        Reason.INTERNAL_ERROR,
        f"unexpected {type(error).__name__} in the operator (its log has where); "
        "retried with back-off",
    )


def _key_work_at(run: Reconciliation, registration: Registration) -> float:
    """When key work is next due: trying a pending key again (soon while it propagates, with
    back-off once Digdir's propagation window has passed), or removing a retired one."""
    memory, deps = run.memory, run.deps
    overdue_for = registration.pending_overdue_for(run.now)
    soon = []
    if registration.ring.pending is not None:
        delay = (
            deps.settings.retry_base_seconds
            if overdue_for is None
            else memory.pending_refusals.retry_delay(
                deps.retry_policy,
                deps.rng,
                now=run.now,
                valid_token_expires_at=memory.earliest_valid_expiry(run.now),
                failing_for=overdue_for,
            )
        )
        soon.append(run.now + delay)
    retiring = [k.retire_after for k in registration.ring.keys if k.retire_after is not None]
    return min([*soon, *retiring], default=float("inf"))


def _registration_retry_at(run: Reconciliation) -> float:
    """When a failed registration is tried again, with back-off of its own."""
    memory, deps = run.memory, run.deps
    return run.now + memory.registration_failures.retry_delay(
        deps.retry_policy,
        deps.rng,
        now=run.now,
        valid_token_expires_at=memory.earliest_valid_expiry(run.now),
    )
