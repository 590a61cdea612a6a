"""A list-then-watch of one kind of object with a server-side label selector, per watched scope
(each namespace of ``MASKINPORTEN_OPERATOR_NAMESPACES`` when it names plain namespaces, else the
whole cluster, narrowed by :func:`in_namespaces`), on background threads.

The ``kubernetes`` client is synchronous, so each scope's list and watch run on a daemon thread;
what they receive is handed to the event loop (``on_list`` and ``on_event``), so the holder of a
cache only ever changes it on the loop. A broken watch is listed again after a short pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import kubernetes

logger = logging.getLogger(__name__)
WATCH_TIMEOUT_SECONDS = 300
RECONNECT_DELAY_SECONDS = 2.0
MAX_RECONNECT_DELAY_SECONDS = 60.0
ALL_NAMESPACES = None

Scope = str | None
"""A namespace, or :data:`ALL_NAMESPACES`."""
OnList = Callable[[Scope, list[dict[str, Any]], int], None]
"""``(scope, items, resourceVersion as a number)``: a complete list of a scope."""
OnEvent = Callable[[str, dict[str, Any]], None]
"""``(ADDED | MODIFIED | DELETED, object)``: one watch event."""


def scopes_of(namespaces: tuple[str, ...]) -> tuple[Scope, ...]:
    """One scope per namespace when ``namespaces`` names plain ones; else one, the cluster."""
    plain = not any(any(c in ns for c in "*?[") for ns in namespaces)
    return namespaces if namespaces and plain else (ALL_NAMESPACES,)


def in_namespaces(namespace: str, patterns: tuple[str, ...]) -> bool:
    """Whether ``namespace`` matches one of ``patterns`` (globs; none: every namespace)."""
    return not patterns or any(fnmatch.fnmatchcase(namespace, p) for p in patterns)


def version_of(item: Mapping[str, Any]) -> int:
    """An object's resourceVersion as a number (etcd's revision), or -1 when it is not one."""
    with contextlib.suppress(ValueError, TypeError):
        return int(item.get("metadata", {}).get("resourceVersion"))
    return -1


def _expired(error: Exception) -> bool:
    return isinstance(error, kubernetes.client.ApiException) and error.status == 410


def _refused(error: Exception) -> bool:
    return isinstance(error, kubernetes.client.ApiException) and error.status in (401, 403)


def _cause(error: Exception) -> str:
    if isinstance(error, kubernetes.client.ApiException):
        return f"HTTP {error.status}"
    return type(error).__name__


@dataclass(frozen=True)
class Listing:
    """What to list and watch: ``list_all`` and ``list_in`` are the client's list calls for the
    cluster and for a namespace (``CoreV1Api.list_secret_for_all_namespaces``,
    ``list_namespaced_secret``); ``when_refused`` what to do when the API server refuses them
    (HTTP 401, 403), logged with the refusal; ``accept`` the Accept headers of the list and of
    the watch (None: whole objects, as JSON)."""

    kind: str
    list_all: Callable[..., Any]
    list_in: Callable[..., Any]
    selector: str
    when_refused: str
    accept: tuple[str, str] | None = None


METADATA_ONLY = (
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
)
""":attr:`Listing.accept` for metadata only (``PartialObjectMetadata``): no spec, no status."""


class ListWatch:
    """Lists and watches :class:`Listing` in each scope until :meth:`stop`."""

    def __init__(
        self, listing: Listing, scopes: tuple[Scope, ...], on_list: OnList, on_event: OnEvent
    ) -> None:
        self._listing = listing
        self._scopes = scopes
        self._on_list = on_list
        self._on_event = on_event
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        where = ", ".join(scope or "all namespaces" for scope in self._scopes)
        logger.info(
            "watching %ss labelled %s in %s", self._listing.kind, self._listing.selector, where
        )
        for scope in self._scopes:
            threading.Thread(
                target=self._watch_forever,
                args=(scope,),
                name=f"{self._listing.kind.lower()}-watch-{scope or 'all'}",
                daemon=True,
            ).start()

    def stop(self) -> None:
        self._stopping.set()

    def _send(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(callback, *args)

    def _watch_forever(self, scope: Scope) -> None:
        """List, then watch from the list's version, until stopped. A failure lists again
        after a pause; a refusal (HTTP 401, 403) after one that doubles while refusals go on,
        so that a permission missing for good costs a log line a minute, not one every two
        seconds."""
        resource_version: str | None = None
        delay = RECONNECT_DELAY_SECONDS
        while not self._stopping.is_set():
            try:
                if resource_version is None:
                    resource_version = self._list(scope)
                    delay = RECONNECT_DELAY_SECONDS
                resource_version = self._watch_once(scope, resource_version)
            except Exception as error:  # a watch must survive any API hiccup
                refused = _refused(error)
                if not _expired(error):  # too old: listed again without a word
                    hint = f" ({self._listing.when_refused})" if refused else ""
                    logger.warning(
                        "watching %ss failed: %s%s", self._listing.kind, _cause(error), hint
                    )
                resource_version = None
                time.sleep(delay if refused else RECONNECT_DELAY_SECONDS)
                delay = min(delay * 2, MAX_RECONNECT_DELAY_SECONDS) if refused else delay

    def _call(self, scope: Scope, **kwargs: Any) -> Any:
        listing = self._listing
        if scope is ALL_NAMESPACES:
            return listing.list_all(label_selector=listing.selector, **kwargs)
        return listing.list_in(scope, label_selector=listing.selector, **kwargs)

    def _headers(self, index: int) -> dict[str, Any]:
        accept = self._listing.accept
        return {} if accept is None else {"_headers": {"Accept": accept[index]}}

    def _list(self, scope: Scope) -> str:
        response = self._call(scope, _preload_content=False, **self._headers(0))
        listed: dict[str, Any] = json.loads(response.data)
        version: str = listed["metadata"]["resourceVersion"]
        self._send(self._on_list, scope, listed.get("items") or [], version_of(listed))
        return version

    def _watch_once(self, scope: Scope, resource_version: str) -> str:
        """Stream events until the server ends the watch; return where to resume from (the
        last event's resourceVersion: undeserialized, the client's watch does not track it)."""
        watch = kubernetes.watch.Watch()
        stream = watch.stream(
            self._call,
            scope,
            timeout_seconds=WATCH_TIMEOUT_SECONDS,
            resource_version=resource_version,
            deserialize=False,
            **self._headers(1),
        )
        for event in stream:
            if self._stopping.is_set():
                watch.stop()
                break
            self._send(self._on_event, event["type"], event["object"])
            resource_version = event["object"]["metadata"]["resourceVersion"]
        return resource_version
