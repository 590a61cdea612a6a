"""Only a managed client whose deletion reaches Digdir carries a finalizer: every other
MaskinportenClient goes at once, operator running or not, and a deleted one's loop ends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

from maskinporten_testbed.operatorprocess import TEST_SETTINGS, OperatorProcess, operator_settings
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread

from .helpers import SCOPE, SHORT_SCOPE, Cluster, provision

FINALIZER = "maskinporten-operator.dev/finalizer"
MANAGED_DELETE = {"scopes": {"consumes": [{"name": SCOPE}]}}
"""No clientId: the operator registers the client, and deletes it with the resource."""


@pytest.fixture(autouse=True)
def _crd(crd_installed: None) -> None:
    """Every test here starts operators of its own, but needs the resource defined."""


@pytest.fixture
def own(
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    namespace: str,
    standin: StandinThread,
    kubeconfig: Path,
    tmp_path: Path,
) -> Iterator[tuple[Cluster, OperatorProcess]]:
    """A namespace and an operator of its own, which the test may stop (it is stopped anyway
    at the end)."""
    settings = {**operator_settings(standin, namespace), **TEST_SETTINGS}
    cluster = Cluster(core, custom, namespace)
    operator = OperatorProcess(kubeconfig, tmp_path / "operator.log", settings)
    try:
        yield cluster, operator
    finally:
        operator.stop()


def finalizers(cluster: Cluster, name: str) -> list[str]:
    return list(cluster.get_client(name)["metadata"].get("finalizers") or [])


def with_finalizer(cluster: Cluster, name: str, spec: dict[str, object]) -> None:
    """A client as an earlier version, whose daemon put kopf's finalizer on every client, left
    it."""
    cluster.create_client(name, spec)
    cluster.patch_client(name, {"metadata": {"finalizers": [FINALIZER]}})


def namespace_exists(core: kubernetes.client.CoreV1Api, name: str) -> bool:
    try:
        core.read_namespace(name)
    except kubernetes.client.ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def test_a_client_with_its_own_client_id_carries_no_finalizer(
    own: tuple[Cluster, OperatorProcess], standin: StandinThread
) -> None:
    cluster, _ = own
    provision(cluster, standin, "plain")

    cluster.wait_condition("plain", status="True")

    assert finalizers(cluster, "plain") == []


def test_a_client_deleted_while_the_operator_is_stopped_goes_at_once_with_its_namespace(
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    standin: StandinThread,
    kubeconfig: Path,
    tmp_path: Path,
) -> None:
    cluster = Cluster(core, custom, f"test-{uuid.uuid4().hex[:10]}")
    core.create_namespace({"metadata": {"name": cluster.namespace}})
    try:
        settings = {**operator_settings(standin, cluster.namespace), **TEST_SETTINGS}
        operator = OperatorProcess(kubeconfig, tmp_path / "operator.log", settings)
        try:
            provision(cluster, standin, "orphaned")
            cluster.wait_condition("orphaned", status="True")
        finally:
            operator.stop()

        cluster.delete_client("orphaned")
        core.delete_namespace(cluster.namespace)

        assert not cluster.client_exists("orphaned")
        eventually(
            lambda: not namespace_exists(core, cluster.namespace),
            what="the namespace to be gone",
            timeout=90,
        )
    finally:
        if namespace_exists(core, cluster.namespace):
            core.delete_namespace(cluster.namespace)


def test_a_finalizer_left_by_an_earlier_version_is_removed_at_start(
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    namespace: str,
    standin: StandinThread,
    kubeconfig: Path,
    tmp_path: Path,
) -> None:
    cluster = Cluster(core, custom, namespace)
    with_finalizer(cluster, "managed", MANAGED_DELETE)
    provision(cluster, standin, "plain")
    cluster.patch_client("plain", {"metadata": {"finalizers": [FINALIZER]}})
    settings = {**operator_settings(standin, namespace), **TEST_SETTINGS}

    operator = OperatorProcess(kubeconfig, tmp_path / "operator.log", settings)
    try:
        eventually(lambda: finalizers(cluster, "plain") == [], what="the finalizer removed")
        eventually(
            lambda: cluster.get_client("managed").get("status", {}).get("observedGeneration"),
            what="the managed client reconciled",
        )
        assert finalizers(cluster, "managed") == [FINALIZER]
    finally:
        operator.stop()
        cluster.patch_client("managed", {"metadata": {"finalizers": None}})


def test_a_client_stuck_terminating_from_an_earlier_version_goes_at_start(
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    namespace: str,
    standin: StandinThread,
    kubeconfig: Path,
    tmp_path: Path,
) -> None:
    cluster = Cluster(core, custom, namespace)
    provision(cluster, standin, "stuck")
    cluster.patch_client("stuck", {"metadata": {"finalizers": [FINALIZER]}})
    cluster.delete_client("stuck")
    settings = {**operator_settings(standin, namespace), **TEST_SETTINGS}

    operator = OperatorProcess(kubeconfig, tmp_path / "operator.log", settings)
    try:
        eventually(lambda: not cluster.client_exists("stuck"), what="the client to be gone")
    finally:
        operator.stop()


def test_a_managed_client_loses_its_finalizer_with_policy_retain_and_gets_it_back(
    own: tuple[Cluster, OperatorProcess],
) -> None:
    cluster, _ = own
    cluster.create_client("managed", MANAGED_DELETE)
    eventually(lambda: finalizers(cluster, "managed") == [FINALIZER], what="the finalizer added")

    retain = {"spec": {"registration": {"deletionPolicy": "Retain"}}}
    cluster.patch_client("managed", retain)
    eventually(lambda: finalizers(cluster, "managed") == [], what="the finalizer removed")

    cluster.patch_client("managed", {"spec": {"registration": {"deletionPolicy": "Delete"}}})
    eventually(lambda: finalizers(cluster, "managed") == [FINALIZER], what="the finalizer back")
    cluster.patch_client("managed", retain)
    eventually(lambda: finalizers(cluster, "managed") == [], what="the finalizer removed")


def test_a_client_deleted_while_the_operator_runs_stops_its_loop(
    own: tuple[Cluster, OperatorProcess], standin: StandinThread
) -> None:
    """Short-lived tokens: a loop still running would request one within seconds; the other
    client's refreshes show that time passed."""
    cluster, operator = own
    gone_id, _ = provision(cluster, standin, "gone", scopes=(SHORT_SCOPE,))
    kept_id, _ = provision(cluster, standin, "kept", scopes=(SHORT_SCOPE,))
    for name in ("gone", "kept"):
        cluster.wait_condition(name, status="True")

    cluster.delete_client("gone")
    labels = {"namespace": cluster.namespace, "name": "gone"}
    eventually(
        lambda: operator.metric("maskinporten_operator_ready", **labels) is None,
        what="the metrics to forget the deleted client",
    )
    requests_after_deletion = standin.request_count(gone_id)
    kept_requests = standin.request_count(kept_id)
    eventually(
        lambda: standin.request_count(kept_id) >= kept_requests + 2,
        what="two refreshes of the other client",
        timeout=60,
    )

    assert standin.request_count(gone_id) == requests_after_deletion
