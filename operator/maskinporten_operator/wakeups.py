"""Waking a resource's daemon before its next scheduled refresh.

:class:`WakeRegistry` holds one :class:`Wakeup` per resource. :class:`SecretWatcher` watches only
the Secrets this operator manages (a server-side label selector, never every Secret in the
cluster) and wakes the owning resource when one is deleted or its data no longer matches what
the operator wrote.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import kopf
import kubernetes

from maskinporten_operator import secrets

logger = logging.getLogger(__name__)
WATCH_TIMEOUT_SECONDS = 60
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

    def register(self, namespace: str, name: str) -> Wakeup:
        wakeup = Wakeup()
        self._wakeups[(namespace, name)] = wakeup
        return wakeup

    def unregister(self, namespace: str, name: str, wakeup: Wakeup) -> None:
        if self._wakeups.get((namespace, name)) is wakeup:
            del self._wakeups[(namespace, name)]

    def wake(self, namespace: str, name: str) -> None:
        wakeup = self._wakeups.get((namespace, name))
        if wakeup is not None:
            wakeup.set()


def needs_attention(event_type: str, secret: dict[str, Any]) -> bool:
    """Whether a watch event on a managed Secret means its owner must act."""
    if event_type == "DELETED":
        return True
    role = (secret.get("metadata", {}).get("labels") or {}).get(secrets.ROLE_LABEL)
    if role == secrets.Role.WORKLOAD:
        return not secrets.is_intact(secret)
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
        self._namespaces: tuple[str | None, ...] = namespaces or (None,)
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
        while not self._stopping.is_set():
            try:
                self._watch_once(loop, namespace)
            except Exception as error:  # a watch must survive any API hiccup
                logger.debug("secret watch restarts after %s", type(error).__name__)
                time.sleep(RECONNECT_DELAY_SECONDS)

    def _watch_once(self, loop: asyncio.AbstractEventLoop, namespace: str | None) -> None:
        watch = kubernetes.watch.Watch()
        kwargs: dict[str, Any] = {
            "label_selector": secrets.SELECTOR,
            "timeout_seconds": WATCH_TIMEOUT_SECONDS,
            "deserialize": False,
        }
        if namespace is None:
            stream = watch.stream(self._core.list_secret_for_all_namespaces, **kwargs)
        else:
            stream = watch.stream(self._core.list_namespaced_secret, namespace, **kwargs)
        for event in stream:
            if self._stopping.is_set():
                watch.stop()
                return
            secret = event["raw_object"]
            metadata = secret.get("metadata", {})
            owner = (metadata.get("labels") or {}).get(secrets.CLIENT_LABEL)
            if owner and needs_attention(event["type"], secret):
                loop.call_soon_threadsafe(self._registry.wake, metadata.get("namespace", ""), owner)
