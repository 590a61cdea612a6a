"""The API server as the benchmark sees it: clients, request counters, a Ready watch."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes

from maskinporten_operator.api import CLIENT_LABEL, GROUP, PLURAL, VERSION

from .world import READY_TIMEOUT, key_secret_name, resource_name

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE", "APPLY"})
READS = frozenset({"GET", "LIST"})
SERIES = re.compile(r"^apiserver_request_total\{([^}]*)\} (\S+)$", re.MULTILINE)
LABEL = re.compile(r'(\w+)="([^"]*)"')
WATCHED_RESOURCES = frozenset({"secrets", "maskinportenclients", "events"})


@dataclass
class Api:
    """The ``kubernetes`` client's APIs (typed ``Any``: they are called with wire-shape dicts)."""

    client: Any
    core: Any
    custom: Any
    own: Counter[str] = field(default_factory=Counter)
    """The benchmark's own requests by ``"VERB resource"``, subtracted from the server's."""

    def request_counts(self) -> Counter[str]:
        """``apiserver_request_total`` summed by ``"VERB resource[/subresource]"``."""
        response = self.client.call_api("GET", self.client.configuration.host + "/metrics")
        text = response.read().decode()
        counts: Counter[str] = Counter()
        for labels, value in SERIES.findall(text):
            found = dict(LABEL.findall(labels))
            if found.get("resource") not in WATCHED_RESOURCES:
                continue
            sub = f"/{found['subresource']}" if found.get("subresource") else ""
            counts[f"{found['verb']} {found['resource']}{sub}"] += int(float(value))
        return counts

    def create_namespace(self, name: str) -> None:
        self.core.create_namespace({"metadata": {"name": name}})

    def put_key_secrets(
        self, namespace: str, keys: Sequence[str], indexes: Iterable[int] | None = None
    ) -> None:
        """Create the key Secrets of the clients at ``indexes`` (default: all of ``keys``)."""

        def put(index: int) -> None:
            body = {  # labelled for its client, as the README recommends
                "metadata": {
                    "name": key_secret_name(index),
                    "labels": {CLIENT_LABEL: resource_name(index)},
                },
                "stringData": {"jwk": keys[index]},
            }
            self.core.create_namespaced_secret(namespace, body)

        parallel(put, range(len(keys)) if indexes is None else indexes)


def parallel(function: Callable[[int], None], indexes: Iterable[int]) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in pool.map(function, indexes):
            pass


def api_for(kubeconfig: Path) -> Api:
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(str(kubeconfig), client_configuration=configuration)
    configuration.connection_pool_maxsize = 8
    client = kubernetes.client.ApiClient(configuration)
    return Api(
        client, kubernetes.client.CoreV1Api(client), kubernetes.client.CustomObjectsApi(client)
    )


def api_delta(api: Api, before: Counter[str], own: Counter[str]) -> Counter[str]:
    """Requests since ``before``, less the benchmark's own since ``own``."""
    after, mine = api.request_counts(), api.own - own
    delta = Counter({key: after[key] - before[key] - mine[key] for key in after})
    return Counter({key: count for key, count in delta.items() if count > 0})


class ReadyWatch:
    """When each MaskinportenClient in a namespace first showed ``Ready=True`` (a watch)."""

    def __init__(self, api: Api, namespace: str) -> None:
        self._api = api
        self._namespace = namespace
        self.ready_at: dict[str, float] = {}
        self._watch = kubernetes.watch.Watch()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="ready-watch")
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._stopped.is_set() and time.monotonic() < deadline:
            try:
                self._stream()
            except Exception:  # a broken watch is opened again (with a new list)
                time.sleep(0.5)

    def _stream(self) -> None:
        stream = self._watch.stream(
            self._api.custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            self._namespace,
            PLURAL,
            timeout_seconds=int(READY_TIMEOUT),
        )
        for event in stream:
            body = event["object"]
            conditions = (body.get("status") or {}).get("conditions") or []
            name = body["metadata"]["name"]
            if name not in self.ready_at and any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
            ):
                self.ready_at[name] = time.monotonic()

    def stop(self) -> None:
        self._stopped.set()
        self._watch.stop()
