"""A watch on the Secrets this operator manages, and only those.

A server-side label selector (never every Secret in the cluster, as a kopf handler on Secrets
would be). When a managed Secret is deleted or its data no longer matches what the operator
wrote, ``on_change(namespace, client_name)`` is called on the event loop.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import kubernetes

from maskinporten_operator.api import CLIENT_ANNOTATION, CLIENT_LABEL, MANAGED_SELECTOR, ROLE_LABEL
from maskinporten_operator.reconcile import workload

logger = logging.getLogger(__name__)
WATCH_TIMEOUT_SECONDS = 300
RECONNECT_DELAY_SECONDS = 2.0


def needs_attention(event_type: str, secret: dict[str, Any]) -> bool:
    """Whether a watch event on a managed Secret means its owner must act."""
    if event_type == "DELETED":
        return True
    role = (secret.get("metadata", {}).get("labels") or {}).get(ROLE_LABEL)
    if role == workload.Role.WORKLOAD:
        return not workload.is_intact(secret)
    return event_type == "MODIFIED"


class SecretWatcher:
    """One background thread per watched scope, feeding wake-ups into the event loop."""

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        on_change: Callable[[str, str], None],
        *,
        namespaces: tuple[str, ...],
    ) -> None:
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._on_change = on_change
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
            "label_selector": MANAGED_SELECTOR,
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
            owner = (metadata.get("annotations") or {}).get(CLIENT_ANNOTATION) or (
                metadata.get("labels") or {}
            ).get(CLIENT_LABEL)
            where = metadata.get("namespace", "")
            if owner and self._watched(where) and needs_attention(event["type"], secret):
                loop.call_soon_threadsafe(self._on_change, where, owner)
        version: str | None = watch.resource_version
        return version

    def _watched(self, namespace: str) -> bool:
        return not self._patterns or any(fnmatch.fnmatchcase(namespace, p) for p in self._patterns)
