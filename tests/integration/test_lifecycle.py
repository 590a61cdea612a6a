"""Deletion keeps registered keys safe; a restarted operator reuses tokens that are still good."""

from __future__ import annotations

from pathlib import Path

import kubernetes
import pytest

from maskinporten_testbed.operatorprocess import TEST_SETTINGS, OperatorProcess, operator_settings
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread

from .helpers import LONG_SCOPE, SCOPE, Cluster, provision


def test_deleting_a_client_keeps_its_generated_key_by_default(cluster: Cluster) -> None:
    cluster.create_client("keeper", {"clientId": "x", "scopes": {"consumes": [{"name": SCOPE}]}})
    eventually(lambda: cluster.secret("keeper-maskinporten-key"), what="a generated key")
    cluster.delete_client("keeper")
    eventually(lambda: not cluster.client_exists("keeper"), what="the client to be gone")
    assert cluster.secret("keeper-maskinporten-key") is not None


def test_deletion_policy_delete_removes_the_generated_key_with_the_client(
    cluster: Cluster,
) -> None:
    spec = {
        "clientId": "x",
        "scopes": {"consumes": [{"name": SCOPE}]},
        "key": {"deletionPolicy": "Delete"},
    }
    cluster.create_client("disposable", spec)
    eventually(lambda: cluster.secret("disposable-maskinporten-key"), what="a generated key")
    cluster.delete_client("disposable")
    eventually(
        lambda: cluster.secret("disposable-maskinporten-key") is None,
        what="garbage collection of the key Secret",
        timeout=90,
    )


def test_deleting_a_client_garbage_collects_its_workload_secret(
    cluster: Cluster, standin: StandinThread
) -> None:
    provision(cluster, standin, "gone")
    cluster.wait_condition("gone", status="True")
    cluster.delete_client("gone")
    eventually(
        lambda: cluster.secret("gone-maskinporten") is None,
        what="garbage collection of the workload Secret",
        timeout=90,
    )
    assert cluster.secret("gone-maskinporten-key") is not None


@pytest.fixture
def isolated(
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    crd_installed: None,
) -> Cluster:
    """A namespace outside the shared operator's reach, for tests that run their own."""
    name = "restart-" + Path(__file__).stem[-6:].replace("_", "")
    core.create_namespace({"metadata": {"name": name}})
    return Cluster(core, custom, name)


def test_restarted_operator_reuses_valid_tokens_instead_of_requesting_new_ones(
    isolated: Cluster, standin: StandinThread, kubeconfig: Path, tmp_path: Path
) -> None:
    settings = {**operator_settings(standin, isolated.namespace), **TEST_SETTINGS}
    first = OperatorProcess(kubeconfig, tmp_path / "first.log", settings)
    try:
        client_id, _ = provision(isolated, standin, "survivor", scopes=(LONG_SCOPE,))
        isolated.wait_condition("survivor", status="True")
    finally:
        first.stop()
    requests_before = standin.request_count(client_id)
    token = isolated.secret_data("survivor-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"]

    second = OperatorProcess(kubeconfig, tmp_path / "second.log", settings)
    try:
        eventually(
            lambda: (
                second.metric(
                    "maskinporten_operator_ready", namespace=isolated.namespace, name="survivor"
                )
                == 1
            ),
            what="the new operator to have reconciled the client (its own metrics say so)",
        )
    finally:
        second.stop()
        isolated.core.delete_namespace(isolated.namespace)
    assert standin.request_count(client_id) == requests_before
    assert isolated.secret_data("survivor-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"] == token
