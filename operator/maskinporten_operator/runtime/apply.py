"""Applying a reconciliation's :class:`~maskinporten_operator.reconcile.reconciler.Outcome`:
the status patch, the Events, the log lines and the per-resource gauges. No kopf here: the
Event poster is passed in, so this is tested with plain fakes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from maskinporten_operator.adapters.metrics import ClientState, ClientStates
from maskinporten_operator.ports import KubeError, KubernetesApi
from maskinporten_operator.reasons import EventType
from maskinporten_operator.reconcile import conditions
from maskinporten_operator.reconcile.effects import ClientRef
from maskinporten_operator.reconcile.memory import ClientMemory
from maskinporten_operator.reconcile.reconciler import Outcome
from maskinporten_operator.reconcile.results import Event

logger = logging.getLogger(__name__)

NOT_FOUND = 404


class ResourceGone(Exception):
    """The API server answered 404 to the resource's status write: it was deleted (also while
    the watch was down, so no DELETED event told). Its loop ends."""


def resource_logger(ref: ClientRef) -> logging.LoggerAdapter[logging.Logger]:
    """This module's logger with the resource attached: kopf's formatters prefix text lines
    with ``[namespace/name]`` and put it under ``object`` in JSON lines."""
    return logging.LoggerAdapter(
        logger, {"k8s_ref": {"namespace": ref.namespace, "name": ref.name}, "k8s_skip": True}
    )


async def apply_outcome(
    outcome: Outcome,
    *,
    ref: ClientRef,
    current_status: Mapping[str, Any],
    memory: ClientMemory,
    kube: KubernetesApi,
    post_event: Callable[[Event], None],
    client_states: ClientStates,
) -> None:
    """Write what changed; a failed status write is logged and retried at the next wake-up.
    Raises :class:`ResourceGone` when the status write finds no resource."""
    log = resource_logger(ref)
    if outcome.status != {key: current_status.get(key) for key in outcome.status}:
        try:
            await kube.patch_status(ref.namespace, ref.name, outcome.status)
        except KubeError as error:
            if error.status == NOT_FOUND:
                raise ResourceGone from None
            log.warning("status not updated, retried at the next wake-up: %s", error)
    for event in outcome.events:
        post_event(event)
        (log.info if event.type == EventType.NORMAL else log.warning)(
            "%s: %s", event.reason, event.message
        )
    if not outcome.ready and not outcome.events:
        ready = conditions.find(outcome.status["conditions"], conditions.READY)
        log.warning("%s again: %s", ready["reason"], ready["message"])
    client_states.set(
        ref.namespace,
        ref.name,
        ClientState(
            ready=outcome.ready,
            token_expires_at=memory.earliest_expiry(),
            next_refresh_at=outcome.next_attempt_at,
            key_registration_expires_at=memory.earliest_key_registration_expiry(),
        ),
    )
