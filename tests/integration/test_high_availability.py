"""Several replicas with kopf peering: exactly one refreshes; another takes over when it stops."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

from maskinporten_testbed import binaries
from maskinporten_testbed.operatorprocess import TEST_SETTINGS, OperatorProcess, operator_settings
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread
from tests.chart.helpers import CHART

from .helpers import LONG_SCOPE, Cluster, provision

PEERING_CRDS = CHART / "crds" / "kopf-peerings.yaml"


@pytest.fixture
def peered(
    kubeconfig: Path,
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    crd_installed: None,
) -> Iterator[Cluster]:
    """A namespace of its own with a KopfPeering object, outside the shared operator's reach."""
    kubectl = [str(binaries.KUBERNETES.path("kubectl")), f"--kubeconfig={kubeconfig}"]
    subprocess.run([*kubectl, "apply", "--server-side", "-f", str(PEERING_CRDS)], check=True)
    subprocess.run([*kubectl, "wait", "--for=condition=Established", "crd", "--all"], check=True)
    name = f"ha-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    custom.create_namespaced_custom_object(
        "kopf.dev",
        "v1",
        name,
        "kopfpeerings",
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "replicas"}},
    )
    yield Cluster(core, custom, name)
    core.delete_namespace(name)


def test_only_the_active_replica_refreshes_and_a_standby_takes_over(
    peered: Cluster, standin: StandinThread, kubeconfig: Path, tmp_path: Path
) -> None:
    settings = {**operator_settings(standin, peered.namespace), **TEST_SETTINGS}
    replicas = [
        OperatorProcess(
            kubeconfig,
            tmp_path / f"replica-{priority}.log",
            {**settings, "MASKINPORTEN_OPERATOR_METRICS_PORT": "0"},
            args=("--peering=replicas", f"--priority={priority}"),
        )
        for priority in (10, 20)
    ]
    standby, active = replicas
    try:
        client_id, _ = provision(peered, standin, "shared", scopes=(LONG_SCOPE,))
        peered.wait_condition("shared", status="True")
        assert standin.request_count(client_id) == 1

        active.stop()
        peered.force_refresh("shared", "after-failover")
        eventually(
            lambda: standin.request_count(client_id) == 2,
            what="the standby to take over",
            timeout=90,
        )
    finally:
        for replica in replicas:
            replica.stop()
    assert "shared" in standby.logs()
