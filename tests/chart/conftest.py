"""Fixtures for the Helm chart tests: helm, kubectl, and namespaces to put the chart in."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

from maskinporten_testbed import binaries

from .helpers import Helm, create_namespace, tool


@pytest.fixture(scope="session")
def helm() -> Helm:
    return Helm(tool(binaries.HELM, "helm"))


@pytest.fixture(scope="session")
def kubectl_binary() -> Path:
    return tool(binaries.KUBERNETES, "kubectl")


@pytest.fixture(scope="module")
def chart_namespaces(core: kubernetes.client.CoreV1Api) -> Iterator[tuple[str, str, str]]:
    """The release's namespace and two namespaces for the operator to watch."""
    prefix = f"chart-{uuid.uuid4().hex[:8]}"
    names = (prefix, f"{prefix}-a", f"{prefix}-b")
    for name in names:
        create_namespace(core, name)
    yield names
    for name in names:
        core.delete_namespace(name)
