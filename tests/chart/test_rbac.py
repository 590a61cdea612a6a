"""The chart's RBAC is enough for the operator and no more: the rendered ServiceAccount, roles and
bindings are created for real, and the operator runs with that ServiceAccount's token.

Both RBAC modes are tested, one after the other (never two operators at once): cluster-wide
ClusterRoles (watching a namespace pattern, so that it serves only this test's namespaces) and
namespaced Roles in two listed namespaces.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import kubernetes
import pytest

from maskinporten_testbed.network import free_port
from maskinporten_testbed.operatorprocess import OperatorProcess
from maskinporten_testbed.standin import StandinThread
from tests.integration.helpers import Cluster, provision

from .helpers import (
    SERVICE_ACCOUNT_KINDS,
    Helm,
    create_namespace,
    kubectl,
    of_kind,
    plain_env,
    service_account_token,
    to_yaml,
    token_kubeconfig,
)

CLUSTER_WIDE, NAMESPACED = "cluster-wide", "namespaced"
CLUSTER_SCOPED = ("ClusterRole", "ClusterRoleBinding")


@dataclass(frozen=True)
class Installation:
    """The chart's ServiceAccount and RBAC, created for real, and a client using its token."""

    mode: str
    release_namespace: str
    watched: tuple[str, str]
    deployment_env: dict[str, str]
    kubeconfig: Path
    api_client: kubernetes.client.ApiClient

    @property
    def core(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(self.api_client)


def chart_values(mode: str, watched: tuple[str, str], standin: StandinThread) -> dict[str, Any]:
    prefix = watched[0].rsplit("-", 1)[0]
    return {
        "rbac": {"namespaced": mode == NAMESPACED},
        "watchNamespaces": list(watched) if mode == NAMESPACED else [f"{prefix}-*"],
        "maskinporten": {"environment": "custom", "issuer": standin.issuer},
        "retry": {"baseSeconds": 1, "maxSeconds": 4},
        "tokenRequests": {"timeoutSeconds": 2},
        "logging": {"level": "DEBUG", "format": "text"},
        "metrics": {"port": free_port()},
    }


@pytest.fixture(scope="module", params=[CLUSTER_WIDE, NAMESPACED])
def installation(
    request: pytest.FixtureRequest,
    helm: Helm,
    kubectl_binary: Path,
    kubeconfig: Path,
    core: kubernetes.client.CoreV1Api,
    standin: StandinThread,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Installation]:
    mode: str = request.param
    prefix = f"rbac-{uuid.uuid4().hex[:8]}"
    release_namespace = create_namespace(core, prefix)
    watched = (create_namespace(core, f"{prefix}-a"), create_namespace(core, f"{prefix}-b"))
    docs = helm.template(
        chart_values(mode, watched, standin), namespace=release_namespace, release=prefix
    )
    rbac = to_yaml(doc for doc in docs if doc["kind"] in SERVICE_ACCOUNT_KINDS)
    kubectl(kubectl_binary, kubeconfig, "apply", manifests=rbac)
    account = of_kind(docs, "ServiceAccount")[0]["metadata"]["name"]
    token = service_account_token(core, account, release_namespace)
    path = token_kubeconfig(kubeconfig, token, tmp_path_factory.mktemp(mode) / "kubeconfig")
    yield Installation(
        mode=mode,
        release_namespace=release_namespace,
        watched=watched,
        deployment_env={**plain_env(docs), "POD_NAMESPACE": release_namespace},
        kubeconfig=path,
        api_client=kubernetes.config.new_client_from_config(str(path)),
    )
    cluster_scoped = to_yaml(doc for doc in docs if doc["kind"] in CLUSTER_SCOPED)
    kubectl(kubectl_binary, kubeconfig, "delete", manifests=cluster_scoped)
    for namespace in (release_namespace, *watched):
        core.delete_namespace(namespace)


@pytest.fixture(scope="module")
def operator_with_chart_rbac(
    installation: Installation, crd_installed: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """The operator with the Deployment's environment and the ServiceAccount's token."""
    log = tmp_path_factory.mktemp(f"operator-{installation.mode}") / "operator.log"
    running = OperatorProcess(installation.kubeconfig, log, installation.deployment_env)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ready_client(
    installation: Installation,
    operator_with_chart_rbac: OperatorProcess,
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    standin: StandinThread,
) -> Iterator[Cluster]:
    """A MaskinportenClient in the second watched namespace, Ready; deleted while the operator
    still runs, so that its finalizer does not outlive the operator."""
    cluster = Cluster(core, custom, installation.watched[1])
    provision(cluster, standin, "weather")
    try:
        cluster.wait_condition("weather", status="True", timeout=60)
    except TimeoutError as error:
        raise TimeoutError(f"{error}\n{operator_with_chart_rbac.logs()[-4000:]}") from None
    yield cluster
    cluster.delete_client("weather")


def test_operator_with_the_charts_rbac_makes_a_client_ready(ready_client: Cluster) -> None:
    assert ready_client.condition("weather")["reason"] == "TokenIssued"


def test_operator_with_the_charts_rbac_writes_the_token_secret(ready_client: Cluster) -> None:
    data = ready_client.secret_data("weather-maskinporten")
    assert data["MASKINPORTEN_ACCESS_TOKEN"].count(".") == 2


def test_operator_with_the_charts_rbac_is_never_refused(
    ready_client: Cluster, operator_with_chart_rbac: OperatorProcess
) -> None:
    """kopf degrades quietly when it lacks a permission (no namespace or CRD watching), so a
    missing rule would show only in the log."""
    refusals = ("Forbidden", "HTTP 403", "Not enough permissions")
    lines = operator_with_chart_rbac.logs().splitlines()
    assert not [line for line in lines if any(refusal in line for refusal in refusals)]


def test_operator_serves_metrics_on_the_port_the_chart_exposes(
    ready_client: Cluster, installation: Installation
) -> None:
    port = installation.deployment_env["MASKINPORTEN_OPERATOR_METRICS_PORT"]
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert response.status_code == 200
    assert "maskinporten_operator_" in response.text


def refused(call: Any, *args: Any) -> bool:
    try:
        call(*args)
    except kubernetes.client.ApiException as error:
        return bool(error.status == 403)
    return False


def test_service_account_cannot_delete_secrets(
    installation: Installation, core: kubernetes.client.CoreV1Api
) -> None:
    namespace = installation.watched[0]
    precious = kubernetes.client.V1Secret(metadata=kubernetes.client.V1ObjectMeta(name="precious"))
    core.create_namespaced_secret(namespace, precious)
    assert refused(installation.core.delete_namespaced_secret, "precious", namespace)


def test_service_account_cannot_create_or_delete_pods(installation: Installation) -> None:
    """It may list, watch and patch pods (tokenDelivery.promptPods), nothing more."""
    namespace = installation.watched[0]
    pod = {
        "metadata": {"name": "workload"},
        "spec": {"containers": [{"name": "app", "image": "x"}]},
    }
    assert refused(installation.core.create_namespaced_pod, namespace, pod)
    assert refused(installation.core.delete_namespaced_pod, "workload", namespace)


def test_service_account_cannot_write_configmaps(installation: Installation) -> None:
    config_map = {"metadata": {"name": "not-mine"}}
    assert refused(
        installation.core.create_namespaced_config_map, installation.watched[0], config_map
    )


@pytest.mark.parametrize("installation", [NAMESPACED], indirect=True)
def test_namespaced_service_account_cannot_read_secrets_outside_the_watched_namespaces(
    installation: Installation,
) -> None:
    namespace = installation.release_namespace
    assert not refused(installation.core.list_namespaced_secret, installation.watched[0])
    assert refused(installation.core.list_namespaced_secret, namespace)
    assert refused(installation.core.list_secret_for_all_namespaces)
