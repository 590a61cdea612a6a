"""Two operator replicas electing a leader through a Lease: only the leader acts; when it is
killed, the other takes over, without refreshing a token that is still good."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

from maskinporten_testbed.operatorprocess import TEST_SETTINGS, OperatorProcess, operator_settings
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread

from .helpers import LONG_SCOPE, Cluster, provision


@pytest.fixture
def isolated(
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    crd_installed: None,
) -> Iterator[Cluster]:
    """A namespace of its own, outside the shared operator's reach."""
    name = f"ha-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    yield Cluster(core, custom, name)
    core.delete_namespace(name)


@pytest.fixture
def replicas(
    isolated: Cluster, standin: StandinThread, kubeconfig: Path, tmp_path: Path
) -> Iterator[tuple[OperatorProcess, OperatorProcess]]:
    """Two replicas with the same settings (and so the same Lease); the first leads."""
    settings = {
        **operator_settings(standin, isolated.namespace),
        **TEST_SETTINGS,
        "MASKINPORTEN_OPERATOR_METRICS_PORT": "0",
    }
    started: list[OperatorProcess] = []
    try:
        started.append(OperatorProcess(kubeconfig, tmp_path / "first.log", settings))
        started.append(
            OperatorProcess(kubeconfig, tmp_path / "second.log", settings, leading=False)
        )
        yield started[0], started[1]
    finally:
        for replica in started:
            replica.stop()


def test_only_the_leader_acts_and_a_standby_takes_over_when_it_is_killed(
    isolated: Cluster,
    standin: StandinThread,
    replicas: tuple[OperatorProcess, OperatorProcess],
) -> None:
    leader, standby = replicas
    client_id, _ = provision(isolated, standin, "shared", scopes=(LONG_SCOPE,))
    isolated.wait_condition("shared", status="True")
    first_token = token_in(isolated)
    assert not standby.leads()

    leader.process.kill()
    leader.process.wait()
    eventually(standby.leads, what="the standby to take over", timeout=90)
    isolated.force_refresh("shared", "after-failover")
    eventually(
        lambda: standin.request_count(client_id) == 2,
        what="the new leader to refresh on request",
        timeout=60,
    )
    eventually(lambda: token_in(isolated) != first_token, what="the new token in the Secret")

    assert standin.request_count(client_id) == 2  # one by each leader: nothing twice
    assert "shared" in standby.logs()


def token_in(cluster: Cluster) -> str:
    return cluster.secret_data("shared-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"]
