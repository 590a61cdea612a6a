"""How a new token reaches the pods that mount the workload Secret: the kubelet copies a changed
Secret into a pod's volume only when it syncs that pod, every ``syncFrequency`` x 1 to 1.5 (up to
~90 s at its defaults); a change to the pod's metadata makes it sync the pod at once (measured
on a real node: 0.19 to 1.14 s). So after writing a new token the operator prompts the pods
labelled for the client (:data:`~maskinporten_operator.api.CLIENT_LABEL` on the pod template)
with its annotation :data:`~maskinporten_operator.api.TOKEN_VERSION_ANNOTATION`: never their
spec, never their owners (what ArgoCD and Flux compare), never a restart.

A pod that cannot be annotated (RBAC, an admission policy) falls back to the kubelet's own
sync: one Event when that starts, one when prompting works again, quiet retries in between.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus

from maskinporten_operator.api import TOKEN_VERSION_ANNOTATION
from maskinporten_operator.ports import KubeError, Pods
from maskinporten_operator.reasons import EventType, Reason
from maskinporten_operator.reconcile.results import Event
from maskinporten_operator.reconcile.schedule import (
    KUBELET_SYNC,
    PROMPT_REFUSED,
    PROMPTED,
    Delivery,
)


@dataclass(frozen=True)
class PromptRefusal:
    """A pod the API server refused to annotate, and its reason (``HTTP 403 Forbidden: ...``);
    ``others``: how many more pods were refused in the same prompt."""

    pod: str
    detail: str
    others: int = 0


@dataclass(frozen=True)
class Prompt:
    """The client's labelled pods, and what prompting them after a new token met: ``attempted``
    False when no new token was written or there was no pod to prompt; ``refusal`` None when
    every pod was annotated (or was gone)."""

    labelled: int
    attempted: bool = False
    refusal: PromptRefusal | None = None


async def prompt_pods(
    pods: Pods, namespace: str, client_name: str, token_version: str | None
) -> Prompt:
    """The pods labelled for the client, each annotated with ``token_version`` (the workload
    Secret's resourceVersion after a new token was written; None when none was: then only
    counted). A pod gone meanwhile (HTTP 404) is passed over; any other :class:`KubeError` is a
    refusal, never raised."""
    names = await pods.labelled(namespace, client_name)
    if token_version is None or not names:
        return Prompt(len(names))
    annotations = {TOKEN_VERSION_ANNOTATION: token_version}
    results = await asyncio.gather(
        *(pods.annotate(namespace, name, annotations) for name in names), return_exceptions=True
    )
    refused = [
        (name, result)
        for name, result in zip(names, results, strict=True)
        if isinstance(result, KubeError) and result.status != HTTPStatus.NOT_FOUND
    ]
    _raise_unexpected(results)
    if not refused:
        return Prompt(len(names), attempted=True)
    name, error = refused[0]
    return Prompt(len(names), True, PromptRefusal(name, error.detail, len(refused) - 1))


def _raise_unexpected(results: list[BaseException | None]) -> None:
    """A pod's annotation that failed outside the port's contract is raised for the
    reconciliation's last resort to report. A cancelled one (its request dropped, e.g. by the
    Kubernetes client's pool shutting down) is raised as a RuntimeError: the CancelledError
    itself would end the resource's loop as if it had been asked to stop."""
    unexpected = next(
        (r for r in results if isinstance(r, BaseException) and not isinstance(r, KubeError)),
        None,
    )
    if isinstance(unexpected, asyncio.CancelledError):
        raise RuntimeError("annotating a labelled pod was cancelled") from unexpected
    if unexpected is not None:
        raise unexpected


def refusal_after(previous: PromptRefusal | None, prompt: Prompt) -> PromptRefusal | None:
    """The refusal to remember: the new prompt's outcome, or ``previous`` when none was tried."""
    return prompt.refusal if prompt.attempted else previous


def delivery(prompt: Prompt, refusal: PromptRefusal | None) -> Delivery:
    """The fact later decisions use: pods are prompted when there is at least one labelled pod
    and the last prompt was not refused (``refusal`` as :func:`refusal_after` gives it)."""
    if not prompt.labelled:
        return KUBELET_SYNC
    return PROMPTED if refusal is None else PROMPT_REFUSED


def prompt_events(previous: PromptRefusal | None, prompt: Prompt) -> list[Event]:
    """An Event when prompting starts to be refused, and one when it works again; none for a
    prompt like the last (a routine refresh) or when nothing was tried."""
    if not prompt.attempted or (previous is None) == (prompt.refusal is None):
        return []
    if prompt.refusal is None:
        return [
            Event(
                EventType.NORMAL,
                Reason.PODS_PROMPTED,
                f"{prompt.labelled} labelled pod(s) annotated after the new token: their kubelet "
                "copies each new token at once again",
            )
        ]
    refusal = prompt.refusal
    others = f" (and {refusal.others} more pod(s))" if refusal.others else ""
    return [
        Event(
            EventType.WARNING,
            Reason.POD_PROMPT_REFUSED,
            f"pod {refusal.pod}{others} could not be annotated with {TOKEN_VERSION_ANNOTATION} "
            f"after a new token ({refusal.detail}): such pods read new tokens when their kubelet "
            "syncs them (up to ~90 s later at its defaults); grant the operator patch on pods "
            "or let the admission policy allow its annotation. Tried again at each new token",
        )
    ]
