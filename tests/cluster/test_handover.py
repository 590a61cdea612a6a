"""The operator's pod replaced under a running managed client: by `kubectl delete pod`, and by
`helm upgrade` to a new image tag and changed values. Refreshes go on, none missed or doubled,
no Secret rewritten without a new token, no key regenerated. The hand-over times are printed."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import kubernetes
import pytest

from maskinporten_testbed.node import Node, NodeImages
from maskinporten_testbed.node.operator import (
    OPERATOR_NAMESPACE,
    Digdir,
    chart_values,
    helm_release,
)
from maskinporten_testbed.polling import eventually
from tests.integration.helpers import Cluster

from .helpers import CLIENT_SCOPE, CLIENT_TOKEN_LIFETIME, SecretRecorder, operator_pods

REFRESHES_AFTER = 3
SOONEST_REFRESH = 0.4
"""Of the lifetime: the operator refreshes at half of it, pulled earlier by at most a tenth of
that; two tokens closer than this were a double refresh."""


def _key_ids(digdir: Digdir, client_id: str) -> set[str]:
    jwks = digdir.selfservice.jwks_document(client_id) or {"keys": []}
    return {key["kid"] for key in jwks["keys"]}


def _observe_handover(
    node: Node,
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    digdir: Digdir,
    replace: Callable[[], None],
) -> dict[str, Any]:
    """A managed client refreshing in a namespace of its own; ``replace`` run once two tokens
    were written; the Secret recorded until ``REFRESHES_AFTER`` more. Asserts the hand-over's
    promises; returns its figures."""
    namespace = f"handover-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": namespace}})
    cluster = Cluster(core, custom, namespace)
    cluster.create_client("weather", {"scopes": {"consumes": [{"name": CLIENT_SCOPE}]}})
    secret = "weather-maskinporten"
    timeout = CLIENT_TOKEN_LIFETIME * (REFRESHES_AFTER + 2) + 120
    with SecretRecorder(core, namespace, secret, node.network_entered) as recorder:
        eventually(lambda: len(recorder.tokens()) >= 2, what="two tokens", timeout=timeout)
        client_id = cluster.get_client("weather")["status"]["clientId"]
        keys_before = _key_ids(digdir, client_id)
        before = _pod_names(core)
        started = time.monotonic()
        replace()
        handover = time.monotonic() - started
        tokens_at_handover = len(recorder.tokens())
        eventually(
            lambda: len(recorder.tokens()) >= tokens_at_handover + REFRESHES_AFTER,
            what=f"{REFRESHES_AFTER} refreshes after the hand-over",
            timeout=timeout,
        )
    core.delete_namespace(namespace)
    written = recorder.token_times()
    intervals = [after - before for before, after in itertools.pairwise(written)]
    figures = {
        "hand-over s": round(handover, 1),
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
