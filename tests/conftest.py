"""Shared fixtures: a real control plane (or an existing cluster), namespaces, the CRD."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest
import yaml

from maskinporten_testbed.controlplane import LocalControlPlane
from maskinporten_testbed.standin import StandinThread
from maskinporten_testbed.testca import BusinessCertificate, CertificateAuthority
from tests.helpers import NOW, ORG
from tests.integration.helpers import (
    LONG_LIFETIME,
    LONG_SCOPE,
    SHORT_LIFETIME,
    SHORT_SCOPE,
    wait_until_established,
)
from tests.stop_on_signals import pytest_configure  # noqa: F401 - a hook, found by its name

REPO = Path(__file__).resolve().parent.parent
CRD_DIR = REPO / "crds"


NEEDS_BUILT_BINARIES = frozenset({"kubeconfig", "helm", "kubectl_binary"})
"""Fixtures that need the test bed's binaries (control plane, kubectl, helm): a test using any
of them, directly or through another fixture, is an integration test."""


FAULTS_DIR = REPO / "tests" / "faults"
INTEROP_DIR = REPO / "tests" / "interop"
CLUSTER_DIR = REPO / "tests" / "cluster"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if NEEDS_BUILT_BINARIES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
        if FAULTS_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.faults)
        if INTEROP_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.interop)
        if CLUSTER_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.cluster)
            item.add_marker(pytest.mark.integration)  # it needs the binaries too


@pytest.fixture(scope="session")
def standin() -> Iterator[StandinThread]:
    """The Maskinporten stand-in shared by every test that runs the operator: 120 s tokens
    (its default, Maskinporten's) but for the scopes that ask for another lifetime."""
    with StandinThread() as server:
        server.set_lifetime(LONG_SCOPE, LONG_LIFETIME)
        server.set_lifetime(SHORT_SCOPE, SHORT_LIFETIME)
        yield server


@pytest.fixture(scope="session")
def ca() -> CertificateAuthority:
    """A test CA issuing business certificates ("virksomhetssertifikat") at ``NOW``."""
    return CertificateAuthority(now=NOW)


@pytest.fixture(scope="session")
def business_certificate(ca: CertificateAuthority) -> BusinessCertificate:
    """The business certificate of ``ORG``, valid for a year from ``NOW``."""
    return ca.issue(ORG)


@pytest.fixture(scope="session")
def control_plane() -> Iterator[LocalControlPlane | None]:
    """The local control plane the tests run against; None with MASKINPORTEN_TEST_KUBECONFIG
    (an existing cluster, whose API server the tests cannot stop and start)."""
    if os.environ.get("MASKINPORTEN_TEST_KUBECONFIG"):
        yield None
        return
    with LocalControlPlane() as plane:
        yield plane


@pytest.fixture(scope="session")
def kubeconfig(control_plane: LocalControlPlane | None) -> Path:
    if control_plane is None:
        return Path(os.environ["MASKINPORTEN_TEST_KUBECONFIG"])
    return control_plane.kubeconfig


@pytest.fixture(scope="session")
def api_client(kubeconfig: Path) -> kubernetes.client.ApiClient:
    return kubernetes.config.new_client_from_config(str(kubeconfig))


@pytest.fixture(scope="session")
def core(api_client: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api_client)


@pytest.fixture(scope="session")
def custom(api_client: kubernetes.client.ApiClient) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(api_client)


@pytest.fixture
def namespace(core: kubernetes.client.CoreV1Api) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:10]}"
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="session")
def crd_installed(api_client: kubernetes.client.ApiClient) -> None:
    extensions = kubernetes.client.ApiextensionsV1Api(api_client)
    for path in sorted(CRD_DIR.glob("*.yaml")):
        body = yaml.safe_load(path.read_text())
        name = body["metadata"]["name"]
        try:
            existing = extensions.read_custom_resource_definition(name)
            body["metadata"]["resourceVersion"] = existing.metadata.resource_version
            extensions.replace_custom_resource_definition(name, body)
        except kubernetes.client.ApiException as error:
            if error.status != 404:
                raise
            extensions.create_custom_resource_definition(body)
        wait_until_established(api_client, name)
