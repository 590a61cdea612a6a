"""Fixtures of the fault suite: one operator process and namespaces per case, on the shared
control plane and stand-in; what each case exposed is kept for the secret scan at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

from maskinporten_testbed.standin import StandinThread

from .bed import (
    BRIEF_LIFETIME,
    BRIEF_SCOPE,
    LASTING_LIFETIME,
    LASTING_SCOPE,
    MINUTE_LIFETIME,
    MINUTE_SCOPE,
    QUICK_LIFETIME,
    QUICK_SCOPE,
    TIMEOUT,
    Exposure,
    FaultBed,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each case may take up to TIMEOUT (every conftest sees every item: pick ours)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.timeout(TIMEOUT))


@pytest.fixture(scope="session")
def exposure() -> Exposure:
    """What the whole fault suite exposed; the last case scans it."""
    return Exposure()


@pytest.fixture(scope="session")
def fault_scopes(standin: StandinThread) -> None:
    standin.set_lifetime(BRIEF_SCOPE, BRIEF_LIFETIME)
    standin.set_lifetime(QUICK_SCOPE, QUICK_LIFETIME)
    standin.set_lifetime(LASTING_SCOPE, LASTING_LIFETIME)
    standin.set_lifetime(MINUTE_SCOPE, MINUTE_LIFETIME)


@pytest.fixture
def bed(
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    kubeconfig: Path,
    crd_installed: None,
    standin: StandinThread,
    fault_scopes: None,
    exposure: Exposure,
    tmp_path: Path,
) -> Iterator[FaultBed]:
    """A case's own operator (started by the case) and namespaces, cleaned up afterwards."""
    world = FaultBed(core, custom, kubeconfig, standin, tmp_path, exposure)
    try:
        yield world
    finally:
        standin.clear_faults()
        world.close()
