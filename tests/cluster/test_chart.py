"""The chart's operator pod, as a user's `helm install` runs it."""

from __future__ import annotations

import urllib.request

import kubernetes

from maskinporten_testbed.node import Node
from maskinporten_testbed.node.operator import OPERATOR_NAMESPACE, RELEASE

from .helpers import operator_pods


def test_operator_pod_runs_ready_under_the_restricted_pod_security_standard(
    operator: None, node: Node, core: kubernetes.client.CoreV1Api
) -> None:
    labels = core.read_namespace(OPERATOR_NAMESPACE).metadata.labels
    (pod,) = operator_pods(core)
    ready = {c.type: c.status for c in pod.status.conditions}["Ready"]
    (container,) = pod.spec.containers
    user = node.kubectl(
        "exec", f"--namespace={OPERATOR_NAMESPACE}", pod.metadata.name, "--", "id", "-u"
    )
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert ready == "True"
    assert container.security_context.read_only_root_filesystem is True
    assert user.strip() == "65532"


def test_metrics_are_scraped_through_the_service(
    operator: None, core: kubernetes.client.CoreV1Api
) -> None:
    service = core.read_namespaced_service(f"{RELEASE}-metrics", OPERATOR_NAMESPACE)
    (port,) = service.spec.ports
    url = f"http://{service.spec.cluster_ip}:{port.port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    assert "maskinporten_" in text


def test_the_liveness_probe_answers(operator: None, core: kubernetes.client.CoreV1Api) -> None:
    (pod,) = operator_pods(core)
    (container,) = pod.spec.containers
    probe = container.liveness_probe.http_get
    (port,) = [p.container_port for p in container.ports if p.name == probe.port]
    url = f"http://{pod.status.pod_ip}:{port}{probe.path}"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
