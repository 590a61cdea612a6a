"""Waking a resource's daemon before its next scheduled refresh.

:class:`WakeRegistry` holds one :class:`Wakeup` per resource. :class:`SecretWatcher` watches only
the Secrets this operator manages (a server-side label selector, never every Secret in the
cluster) and wakes the owning resource when one is deleted or its data no longer matches what
the operator wrote.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import threading
import time
from typing import Any

import kopf
import kubernetes

from maskinporten_operator.reconcile import workload

logger = logging.getLogger(__name__)
WATCH_TIMEOUT_SECONDS = 300
RECONNECT_DELAY_SECONDS = 2.0


class Wakeup:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, seconds: float, stopped: kopf.DaemonStopped) -> None:
        """Sleep ``seconds``, returning early when woken or when the daemon is stopped."""
        woken = asyncio.ensure_future(self._event.wait())
        halted = asyncio.ensure_future(stopped.wait())
        try:
            await asyncio.wait(
                {woken, halted}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            woken.cancel()
            halted.cancel()
            self._event.clear()


class WakeRegistry:
    def __init__(self) -> None:
        self._wakeups: dict[tuple[str, str], Wakeup] = {}
        self._seen: dict[tuple[str, str], tuple[object, ...]] = {}

    def wake_on_change(self, namespace: str, name: str, *facts: object) -> None:
        """Wake the resource when ``facts`` differ from the last ones seen for it.

        Waking on a change rather than on a mismatch with the status keeps a request that keeps
        failing (a forced refresh, say) on its back-off instead of retrying on every update.
        """
        key = (namespace, name)
        if self._seen.get(key) != facts:
            self._seen[key] = facts
            self.wake(namespace, name)

    def register(self, namespace: str, name: str) -> Wakeup:
        wakeup = Wakeup()
        self._wakeups[(namespace, name)] = wakeup
        return wakeup

    def unregister(self, namespace: str, name: str, wakeup: Wakeup) -> None:
        if self._wakeups.get((namespace, name)) is wakeup:
            del self._wakeups[(namespace, name)]
            self._seen.pop((namespace, name), None)

    def wake(self, namespace: str, name: str) -> None:
        wakeup = self._wakeups.get((namespace, name))
        if wakeup is not None:
            wakeup.set()


def needs_attention(event_type: str, secret: dict[str, Any]) -> bool:
    """Whether a watch event on a managed Secret means its owner must act."""
    if event_type == "DELETED":
        return True
    role = (secret.get("metadata", {}).get("labels") or {}).get(workload.ROLE_LABEL)
    if role == workload.Role.WORKLOAD:
        return not workload.is_intact(secret)
    return event_type == "MODIFIED"


class SecretWatcher:
    """One background thread per watched scope, feeding wake-ups into the event loop."""

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        registry: WakeRegistry,
        *,
        namespaces: tuple[str, ...],
    ) -> None:
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._registry = registry
        self._patterns = namespaces
        plain = not any(any(c in ns for c in "*?[") for ns in namespaces)
        self._namespaces: tuple[str | None, ...] = namespaces if namespaces and plain else (None,)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        for namespace in self._namespaces:
            thread = threading.Thread(
                target=self._watch_forever,
                args=(loop, namespace),
                name=f"secret-watch-{namespace or 'all'}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()

    def _watch_forever(self, loop: asyncio.AbstractEventLoop, namespace: str | None) -> None:
        resource_version: str | None = None
        while not self._stopping.is_set():
            try:
                resource_version = self._watch_once(loop, namespace, resource_version)
            except kubernetes.client.ApiException as error:
                if error.status == 410:
                    resource_version = None
                else:
                    logger.warning("watching managed Secrets failed: HTTP %s", error.status)
                time.sleep(RECONNECT_DELAY_SECONDS)
            except Exception as error:  # a watch must survive any API hiccup
                logger.warning("watching managed Secrets failed: %s", type(error).__name__)
                time.sleep(RECONNECT_DELAY_SECONDS)

    def _watch_once(
        self,
        loop: asyncio.AbstractEventLoop,
        namespace: str | None,
        resource_version: str | None,
    ) -> str | None:
        """Stream events until the server ends the watch; return where to resume from."""
        watch = kubernetes.watch.Watch()
        kwargs: dict[str, Any] = {
            "label_selector": workload.SELECTOR,
            "timeout_seconds": WATCH_TIMEOUT_SECONDS,
            "deserialize": False,
        }
        if resource_version is not None:
            kwargs["resource_version"] = resource_version
        if namespace is None:
            stream = watch.stream(self._core.list_secret_for_all_namespaces, **kwargs)
        else:
            stream = watch.stream(self._core.list_namespaced_secret, namespace, **kwargs)
        for event in stream:
            if self._stopping.is_set():
                watch.stop()
                break
            secret = event["object"]
            metadata = secret.get("metadata", {})
            owner = (metadata.get("labels") or {}).get(workload.CLIENT_LABEL)
            where = metadata.get("namespace", "")
            if owner and self._watched(where) and needs_attention(event["type"], secret):
                loop.call_soon_threadsafe(self._registry.wake, where, owner)
        version: str | None = watch.resource_version
        return version

    def _watched(self, namespace: str) -> bool:
        return not self._patterns or any(fnmatch.fnmatchcase(namespace, p) for p in self._patterns)
