"""Prometheus metrics, prefixed ``maskinporten_operator_``.

Counters and the latency histogram are updated as things happen; per-resource gauges are
computed at scrape time from :class:`ClientStates`, which holds one small entry per resource
the operator currently manages, so the series vanish with the resource.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from maskinporten_operator.reasons import Reason

PREFIX = "maskinporten_operator"


@dataclass(frozen=True)
class ClientState:
    ready: bool
    token_expires_at: float | None
    next_refresh_at: float
    key_registration_expires_at: float | None = None
    """A managed client's: when the first of the operator's registered keys expires at Digdir."""


class ClientStates(Collector):
    """The latest state of each managed resource, exported as gauges at scrape time."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], ClientState] = {}

    def set(self, namespace: str, name: str, state: ClientState) -> None:
        self._states[(namespace, name)] = state

    def forget(self, namespace: str, name: str) -> None:
        self._states.pop((namespace, name), None)

    def collect(self) -> Iterable[Metric]:
        labels = ["namespace", "name"]
        ready = GaugeMetricFamily(
            f"{PREFIX}_ready", "1 when the resource's Secret holds a valid token", labels=labels
        )
        expiry = GaugeMetricFamily(
            f"{PREFIX}_token_expiration_timestamp_seconds",
            "When the token in the resource's Secret expires (Unix time)",
            labels=labels,
        )
        refresh = GaugeMetricFamily(
            f"{PREFIX}_next_refresh_timestamp_seconds",
            "When the operator next requests a token for the resource (Unix time)",
            labels=labels,
        )
        registration = GaugeMetricFamily(
            f"{PREFIX}_key_registration_expiration_timestamp_seconds",
            "When the first of a managed client's registered keys expires at Digdir (Unix time)",
            labels=labels,
        )
        managed = GaugeMetricFamily(f"{PREFIX}_managed_resources", "MaskinportenClients managed")
        for (namespace, name), state in list(self._states.items()):
            ready.add_metric([namespace, name], 1.0 if state.ready else 0.0)
            refresh.add_metric([namespace, name], state.next_refresh_at)
            if state.token_expires_at is not None:
                expiry.add_metric([namespace, name], state.token_expires_at)
            if state.key_registration_expires_at is not None:
                registration.add_metric([namespace, name], state.key_registration_expires_at)
        managed.add_metric([], len(self._states))
        return [ready, expiry, refresh, registration, managed]


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.clients = ClientStates()
        self.registry.register(self.clients)
        self._refreshes = Counter(
            f"{PREFIX}_token_requests",
            "Token requests by result (success, failure), reason, and Maskinporten's error code "
            "(MP-121; empty when the answer had none)",
            ["result", "reason", "code"],
            registry=self.registry,
        )
        self._latency = Histogram(
            f"{PREFIX}_token_request_duration_seconds",
            "Time to sign a grant and get an answer from the authorization server",
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=self.registry,
        )

        self._pod_prompts = Counter(
            f"{PREFIX}_pod_prompts",
            "Pods annotated after a new token so that their kubelet copies it at once, by result: "
            "prompted, gone (deleted meanwhile), refused (RBAC or an admission policy)",
            ["result"],
            registry=self.registry,
        )

    def pod_prompt(self, result: str) -> None:
        """Record one pod's prompt and its result."""
        self._pod_prompts.labels(result=result).inc()

    def token_request(
        self, *, seconds: float, reason: Reason | None, code: str | None = None
    ) -> None:
        """Record one token request; ``reason`` is None on success, ``code`` the server's error
        code of a failure (none: an empty label)."""
        self._latency.observe(seconds)
        if reason is None:
            self._refreshes.labels(result="success", reason=Reason.TOKEN_ISSUED, code="").inc()
        else:
            self._refreshes.labels(result="failure", reason=reason, code=code or "").inc()

    def serve(self, port: int) -> None:
        start_http_server(port, registry=self.registry)
