"""Fixtures for the operator running as it would in production: a separate process, against
the local control plane and the Maskinporten stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

from maskinporten_testbed.operatorprocess import TEST_SETTINGS, OperatorProcess, operator_settings
from maskinporten_testbed.standin import StandinThread

from .helpers import Cluster

TEST_NAMESPACES = "test-*"


@pytest.fixture(scope="session")
def operator(
    kubeconfig: Path,
    crd_installed: None,
    standin: StandinThread,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    settings = {**operator_settings(standin, TEST_NAMESPACES), **TEST_SETTINGS}
    running = OperatorProcess(kubeconfig, log, settings)
    yield running
    running.stop()


@pytest.fixture
def cluster(
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    namespace: str,
    operator: OperatorProcess,
) -> Cluster:
    """The test's namespace, watched by the running operator."""
    return Cluster(core, custom, namespace)


@pytest.fixture(autouse=True)
def _stand_in_without_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Faults injected by one test never leak into the next."""
    yield
    if "standin" in request.fixturenames:
        request.getfixturevalue("standin").clear_faults()
