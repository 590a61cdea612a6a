"""The operator's pod replaced under a running managed client: by `kubectl delete pod`, and by
`helm upgrade` to a new image tag and changed values. Refreshes go on, none missed or doubled,
no Secret rewritten without a new token, no key regenerated. Printed: how long the replacement
took, and, as the fault suite measures it, the seconds from the leader's pod stopping until
another replica holds the Lease and until its first token request (a refresh of the client is
asked for as soon as the leader's pod has stopped, so that request is the new leader's first
act)."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import kubernetes
import pytest

from maskinporten_testbed.node import Node, NodeImages
from maskinporten_testbed.node.operator import (
    OPERATOR_NAMESPACE,
    RELEASE,
    Digdir,
    chart_values,
    helm_release,
)
from maskinporten_testbed.polling import eventually
from tests.integration.helpers import Cluster

from .helpers import CLIENT_SCOPE, CLIENT_TOKEN_LIFETIME, SecretRecorder, operator_pods

PROBE = "probe"
"""The client whose refresh is asked for as soon as the leader's pod has stopped (the recorded
client, ``weather``, is left to its schedule: its refreshes are checked for doubles)."""
LEASE = RELEASE
"""The chart's Lease, in the operator's namespace: named after the release (its full name, as
the release's name holds the chart's)."""

REFRESHES_AFTER = 3
SOONEST_REFRESH = 0.4
"""Of the lifetime: the operator refreshes at half of it, pulled earlier by at most a tenth of
that; two tokens closer than this were a double refresh."""


def _key_ids(digdir: Digdir, client_id: str) -> set[str]:
    jwks = digdir.selfservice.jwks_document(client_id) or {"keys": []}
    return {key["kid"] for key in jwks["keys"]}


@dataclass
class LeaderWatch:
    """Polls the Lease and the leader's pod ten times a second on a thread inside the node's
    network, until another replica holds the Lease. The leader has stopped when it no longer
    holds the Lease (it releases it on SIGTERM once its loops have stopped) or its pod has (a
    container terminated, or the pod gone), whichever is seen first; a refresh of ``client`` is
    then asked for at once. Times are the Maskinporten stand-in's (``clock``)."""

    core: kubernetes.client.CoreV1Api
    coordination: kubernetes.client.CoordinationV1Api
    cluster: Cluster
    client: str
    clock: Callable[[], float]
    enter_network: Callable[[], Any]
    leader: str = ""
    stopped: float | None = None
    """When the first leader was seen stopped (and the refresh asked for)."""
    succeeded: float | None = None
    """When another replica was first seen holding the Lease."""
    failure: Exception | None = None
    """The last error polling met (polling goes on)."""
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> LeaderWatch:
        self.leader = eventually(self._holder, what="a replica holding the Lease", timeout=60)
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _holder(self) -> str:
        lease = self.coordination.read_namespaced_lease(LEASE, OPERATOR_NAMESPACE)
        return str(lease.spec.holder_identity or "")

    def _watch(self) -> None:
        with self.enter_network():
            while not self._stop.wait(0.1) and self.succeeded is None:
                try:
                    self._poll()
                except Exception as error:  # kept for the test's message
                    self.failure = error

    def _poll(self) -> None:
        holder = self._holder()
        if self.stopped is None and (holder != self.leader or self._leader_pod_stopped()):
            at = self.clock()
            self.cluster.force_refresh(self.client, f"hand-over-{at}")  # if it fails: next poll
            self.stopped = at
        if self.stopped is not None and holder not in ("", self.leader):
            self.succeeded = self.clock()

    def _leader_pod_stopped(self) -> bool:
        pod_name = self.leader.rsplit("-", 1)[0]  # the identity is POD_NAME-<random>
        try:
            pod = self.core.read_namespaced_pod(pod_name, OPERATOR_NAMESPACE)
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                return True
            raise
        return any(
            status.state is not None and status.state.terminated is not None
            for status in pod.status.container_statuses or []
        )


def _observe_handover(
    node: Node,
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    digdir: Digdir,
    replace: Callable[[], None],
) -> dict[str, Any]:
    """A managed client refreshing in a namespace of its own, beside :data:`PROBE`; ``replace``
    run once two tokens were written; the Secret recorded until ``REFRESHES_AFTER`` more.
    Asserts the hand-over's promises; returns its figures."""
    namespace = f"handover-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": namespace}})
    cluster = Cluster(core, custom, namespace)
    for name in ("weather", PROBE):
        cluster.create_client(name, {"scopes": {"consumes": [{"name": CLIENT_SCOPE}]}})
    secret = "weather-maskinporten"
    timeout = CLIENT_TOKEN_LIFETIME * (REFRESHES_AFTER + 2) + 120
    with SecretRecorder(core, namespace, secret, node.network_entered) as recorder:
        eventually(lambda: len(recorder.tokens()) >= 2, what="two tokens", timeout=timeout)
        client_id = cluster.get_client("weather")["status"]["clientId"]
        client_ids = {client_id, _client_id(cluster, PROBE, timeout)}
        keys_before = _key_ids(digdir, client_id)
        before = _pod_names(core)
        started = time.monotonic()
        with LeaderWatch(
            core,
            kubernetes.client.CoordinationV1Api(core.api_client),
            cluster,
            PROBE,
            digdir.maskinporten.now,
            node.network_entered,
        ) as watch:
            replace()
            handover = time.monotonic() - started
            try:
                eventually(lambda: watch.succeeded, what="another replica leading", timeout=timeout)
            except TimeoutError as waited:
                raise AssertionError(f"last error polling: {watch.failure!r}") from waited
        first_request = eventually(
            lambda: _first_request_after(digdir, client_ids, watch.stopped),
            what="the new leader's first token request",
            timeout=timeout,
        )
        tokens_at_handover = len(recorder.tokens())
        eventually(
            lambda: len(recorder.tokens()) >= tokens_at_handover + REFRESHES_AFTER,
            what=f"{REFRESHES_AFTER} refreshes after the hand-over",
            timeout=timeout,
        )
    core.delete_namespace(namespace)
    written = recorder.token_times()
    intervals = [after - before for before, after in itertools.pairwise(written)]
    assert watch.stopped is not None
    assert watch.succeeded is not None
    figures = {
        "hand-over s": round(handover, 1),
        "leader stopped -> another leads s": round(watch.succeeded - watch.stopped, 1),
        "leader stopped -> first token request s": round(first_request - watch.stopped, 1),
        "tokens": len(recorder.tokens()),
        "shortest interval s": round(min(intervals), 1),
        "longest interval s": round(max(intervals), 1),
    }
    print(f"\nhand-over of the operator pod: {json.dumps(figures)}")
    assert not before & _pod_names(core)
    assert _key_ids(digdir, client_id) == keys_before
    assert recorder.rewrites_without_new_token() == 0
    assert recorder.expired_when_seen() == []
    assert min(intervals) >= SOONEST_REFRESH * CLIENT_TOKEN_LIFETIME
    return figures


def _client_id(cluster: Cluster, name: str, timeout: float) -> str:
    """The client id the operator registered for ``name`` at Digdir, once it has."""
    return str(
        eventually(
            lambda: cluster.get_client(name).get("status", {}).get("clientId"),
            what=f"{name} registered",
            timeout=timeout,
        )
    )


def _first_request_after(digdir: Digdir, client_ids: set[str], since: float | None) -> float | None:
    """When the stand-in got the first token request for one of ``client_ids`` at or after
    ``since``."""
    if since is None:
        return None
    requests = digdir.maskinporten.requests()
    return next((r.at for r in requests if r.at >= since and r.client_id in client_ids), None)


def _pod_names(core: kubernetes.client.CoreV1Api) -> set[str]:
    return {pod.metadata.name for pod in operator_pods(core)}


def _all_ready(core: kubernetes.client.CoreV1Api, replicas: int) -> bool:
    pods = operator_pods(core)
    return len(pods) == replicas and all(
        {c.type: c.status for c in pod.status.conditions or []}.get("Ready") == "True"
        for pod in pods
    )


def test_a_deleted_operator_pod_is_replaced_without_losing_or_doubling_refreshes(
    operator: None,
    node: Node,
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    digdir: Digdir,
) -> None:
    def delete_pod() -> None:
        (name,) = _pod_names(core)
        node.kubectl("delete", "pod", f"--namespace={OPERATOR_NAMESPACE}", name, "--wait=false")
        eventually(
            lambda: name not in _pod_names(core) and _all_ready(core, 1),
            what="a new operator pod Ready",
            timeout=300,
        )

    _observe_handover(node, core, custom, digdir, delete_pod)


@pytest.mark.parametrize(
    ("replicas", "upgraded_replicas"),
    [(1, 1), (2, 2), (1, 2), (2, 1)],
    ids=["1-replica", "2-replicas", "1-to-2-replicas", "2-to-1-replica"],
)
def test_helm_upgrade_to_a_new_image_tag_and_values_keeps_refreshing(
    release_restored: None,
    replicas: int,
    upgraded_replicas: int,
    node: Node,
    prepared: NodeImages,
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    digdir: Digdir,
) -> None:
    """The release runs ``replicas`` replicas, then is upgraded to a new tag, a changed value
    and ``upgraded_replicas`` in one ``helm upgrade`` (a rolling update at any count: new pods
    stand by until the old leader releases its Lease on SIGTERM; the old pods and the new never
    both act, which peering did not ensure when one replica became two)."""
    image = prepared.operator
    helm_release(node, "upgrade", chart_values(image, digdir, replicaCount=replicas))
    eventually(lambda: _all_ready(core, replicas), what=f"{replicas} pods Ready", timeout=300)
    tag = f"upgrade-{replicas}-{upgraded_replicas}"
    node.tag_image(image.name, f"{image.repository}:{tag}")
    values = chart_values(image, digdir, replicaCount=upgraded_replicas, logging={"level": "DEBUG"})
    values["image"] = {**values["image"], "tag": tag}

    def upgrade() -> None:
        helm_release(node, "upgrade", values)
        eventually(
            lambda: _all_ready(core, upgraded_replicas),
            what="the upgraded pods Ready",
            timeout=300,
        )

    _observe_handover(node, core, custom, digdir, upgrade)
