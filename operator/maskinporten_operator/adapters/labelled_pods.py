"""The pods labelled for a MaskinportenClient (:data:`~maskinporten_operator.api.CLIENT_LABEL`),
kept in memory from a list and a watch of their metadata only, and the annotation that prompts
their kubelet.

One list-then-watch per watched scope (:mod:`.listwatch`), with a server-side label selector,
as ``PartialObjectMetadata`` (no spec, no status). Of each pod only its name is kept, under its
namespace and label value; namespaces and label values are interned, so a pod costs a name and
two table entries (see the README for the figure per pod).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

import kubernetes

from maskinporten_operator.adapters.kube import Kube
from maskinporten_operator.adapters.listwatch import (
    ALL_NAMESPACES,
    METADATA_ONLY,
    Listing,
    ListWatch,
    Scope,
    in_namespaces,
    scopes_of,
)
from maskinporten_operator.api import CLIENT_LABEL, label_value
from maskinporten_operator.ports import KubeError

PodKey = tuple[str, str]
"""(namespace, pod name)"""
PROMPTED, GONE, REFUSED = "prompted", "gone", "refused"
"""The results of one pod's prompt, as :class:`WatchedPods` reports them (``on_prompt``)."""


def _label(pod: Mapping[str, Any]) -> str | None:
    label: str | None = (pod.get("metadata", {}).get("labels") or {}).get(CLIENT_LABEL)
    return label


def _key(pod: Mapping[str, Any]) -> PodKey:
    metadata = pod.get("metadata", {})
    return sys.intern(metadata.get("namespace", "")), metadata.get("name", "")


class LabelledPodIndex:
    """Pod names by (namespace, label value); applied on the event loop only."""

    def __init__(self, namespaces: tuple[str, ...]) -> None:
        self._patterns = namespaces
        self._names: dict[tuple[str, str], set[str]] = {}
        self._labels: dict[PodKey, str] = {}

    def __len__(self) -> int:
        return len(self._labels)

    def names(self, namespace: str, label: str) -> tuple[str, ...]:
        return tuple(sorted(self._names.get((namespace, label), ())))

    def apply_event(self, event_type: str, pod: dict[str, Any]) -> None:
        """A watch event (ADDED, MODIFIED, DELETED: also when the pod lost the label)."""
        key = _key(pod)
        if not in_namespaces(key[0], self._patterns):
            return
        self._forget(key)
        label = _label(pod)
        if event_type != "DELETED" and label is not None:
            label = sys.intern(label)
            self._labels[key] = label
            self._names.setdefault((key[0], label), set()).add(key[1])

    def apply_list(self, scope: Scope, pods: list[dict[str, Any]], version: int) -> None:
        """A full list of ``scope``: it replaces what was known there."""
        for key in [k for k in self._labels if scope is ALL_NAMESPACES or k[0] == scope]:
            self._forget(key)
        for pod in pods:
            self.apply_event("ADDED", pod)

    def _forget(self, key: PodKey) -> None:
        label = self._labels.pop(key, None)
        if label is None:
            return
        names = self._names[(key[0], label)]
        names.discard(key[1])
        if not names:
            del self._names[(key[0], label)]


class WatchedPods:
    """:class:`~maskinporten_operator.ports.Pods` from the pod watch and :class:`Kube`."""

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        kube: Kube,
        *,
        namespaces: tuple[str, ...],
        list_wait_seconds: float,
        on_prompt: Callable[[str], None],
    ) -> None:
        """``list_wait_seconds``: how long a look-up waits at start-up for the first list;
        ``on_prompt``: told each pod's result (:data:`PROMPTED`, :data:`GONE`,
        :data:`REFUSED`), for the metrics."""
        core = kubernetes.client.CoreV1Api(api_client)
        listing = Listing(
            "Pod",
            core.list_pod_for_all_namespaces,
            core.list_namespaced_pod,
            CLIENT_LABEL,
            when_refused="grant the operator list, watch and patch on pods, or set "
            "MASKINPORTEN_OPERATOR_PROMPT_PODS=false",
            accept=METADATA_ONLY,
        )
        self.index = LabelledPodIndex(namespaces)
        scopes = scopes_of(namespaces)
        self._listed = {scope: asyncio.Event() for scope in scopes}
        self._watch = ListWatch(listing, scopes, self._apply_list, self.index.apply_event)
        self._kube = kube
        self._list_wait_seconds = list_wait_seconds
        self._list_deadline = 0.0
        self._on_prompt = on_prompt

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._list_deadline = loop.time() + self._list_wait_seconds
        self._watch.start(loop)

    def stop(self) -> None:
        self._watch.stop()

    def _apply_list(self, scope: Scope, pods: list[dict[str, Any]], version: int) -> None:
        self.index.apply_list(scope, pods, version)
        self._listed[scope].set()

    async def labelled(self, namespace: str, client_name: str) -> tuple[str, ...]:
        """Waits for the first list only until ``list_wait_seconds`` after :meth:`start`: a
        list that never comes (no RBAC for pods) delays no reconciliation after start-up."""
        listed = self._listed.get(namespace, self._listed.get(ALL_NAMESPACES))
        remaining = self._list_deadline - asyncio.get_running_loop().time()
        if listed is not None and remaining > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await listed.wait()
        return self.index.names(namespace, label_value(client_name))

    async def annotate(self, namespace: str, name: str, annotations: Mapping[str, str]) -> None:
        try:
            await self._kube.annotate_pod(namespace, name, annotations)
        except KubeError as error:
            self._on_prompt(GONE if error.status == 404 else REFUSED)
            raise
        self._on_prompt(PROMPTED)
