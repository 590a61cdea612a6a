"""The chart's pod-changes policy where users run it: the operator's ServiceAccount, with a token
of its own, may set its annotation on a running workload pod and is refused an image change."""

from __future__ import annotations

from pathlib import Path

import kubernetes
import pytest

from maskinporten_testbed.node import Node
from maskinporten_testbed.polling import eventually
from tests.chart.helpers import service_account_token, token_kubeconfig

from .helpers import EXPIRES_KEY, TOKEN_KEY, operator_pods, sampler_pod

ANNOTATION = "maskinporten-operator.dev/token-version"
POD = "workload"
IMAGE_CHANGE = {
    "spec": {"containers": [{"name": "client", "image": "registry.example.net/evil:1"}]}
}


@pytest.fixture
def workload(operator: None, core: kubernetes.client.CoreV1Api, namespace: str) -> str:
    """A running pod (the sampler, reading a Secret of its own); its namespace."""
    secret = {
        "metadata": {"name": "token"},
        "stringData": {TOKEN_KEY: "not-a-token", EXPIRES_KEY: "2030-01-01T00:00:00Z"},
    }
    core.create_namespaced_secret(namespace, secret)
    core.create_namespaced_pod(namespace, sampler_pod(POD, "token"))
    eventually(
        lambda: core.read_namespaced_pod(POD, namespace).status.phase == "Running",
        what=f"pod {namespace}/{POD} running",
        timeout=120,
    )
    return namespace


@pytest.fixture
def as_operator(
    operator: None, node: Node, core: kubernetes.client.CoreV1Api, tmp_path: Path
) -> kubernetes.client.CoreV1Api:
    """The API as the operator's ServiceAccount sees it."""
    (pod,) = operator_pods(core)
    account, namespace = pod.spec.service_account_name, pod.metadata.namespace
    token = service_account_token(core, account, namespace)
    kubeconfig = token_kubeconfig(node.kubeconfig, token, tmp_path / "kubeconfig")
    return kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(str(kubeconfig)))


def test_operator_may_set_its_annotation_on_a_running_pod(
    workload: str, as_operator: kubernetes.client.CoreV1Api
) -> None:
    patched = as_operator.patch_namespaced_pod(
        POD, workload, {"metadata": {"annotations": {ANNOTATION: "1"}}}
    )

    assert patched.metadata.annotations == {ANNOTATION: "1"}


def test_operator_is_refused_an_image_change_on_a_running_pod(
    workload: str, as_operator: kubernetes.client.CoreV1Api, core: kubernetes.client.CoreV1Api
) -> None:
    with pytest.raises(kubernetes.client.ApiException) as refused:
        as_operator.patch_namespaced_pod(POD, workload, IMAGE_CHANGE)

    assert refused.value.status == 403
    assert f"refused: a change to the spec of pod {workload}/{POD}" in str(refused.value.body)
    (container,) = core.read_namespaced_pod(POD, workload).spec.containers
    assert container.image != "registry.example.net/evil:1"
