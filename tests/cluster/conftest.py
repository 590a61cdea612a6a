"""One node for the cluster tests, the chart installed on it with the image built here.

The node lives as long as this package's tests (torn down before the rest of the suite runs
on the machine's two cores). Each test runs with the main thread inside the node's network
namespace, so the Kubernetes client reaches the node's API server; the stand-ins run in this
process and listen on the node's address.
"""

from __future__ import annotations

from collections.abc import Iterator

import kubernetes
import pytest

from maskinporten_testbed.node import Node, NodeImages
from maskinporten_testbed.node.operator import ORG as NODE_ORG
from maskinporten_testbed.node.operator import (
    Digdir,
    chart_values,
    digdir_in_node,
    helm_release,
    install_operator,
)

from .helpers import CLIENT_SCOPE, CLIENT_TOKEN_LIFETIME, prepared_or_skipped


@pytest.fixture(scope="package")
def prepared() -> NodeImages:
    return prepared_or_skipped()


@pytest.fixture(scope="package")
def node(prepared: NodeImages) -> Iterator[Node]:
    with Node(prepared.archives) as running:
        yield running


@pytest.fixture(autouse=True)
def inside_node_network(node: Node) -> Iterator[None]:
    with node.network_entered():
        yield


@pytest.fixture(scope="package")
def digdir(node: Node) -> Iterator[Digdir]:
    with digdir_in_node(node) as stand_ins:
        stand_ins.maskinporten.set_lifetime(CLIENT_SCOPE, CLIENT_TOKEN_LIFETIME)
        stand_ins.selfservice.grant_scope_access(NODE_ORG, CLIENT_SCOPE)
        yield stand_ins


@pytest.fixture(scope="package")
def operator(node: Node, prepared: NodeImages, digdir: Digdir) -> None:
    """The chart installed as a user would, once for the package's tests."""
    install_operator(node, prepared.operator, digdir)


@pytest.fixture
def release_restored(
    operator: None, node: Node, prepared: NodeImages, digdir: Digdir
) -> Iterator[None]:
    """For a test that upgrades or uninstalls the release: installed as at first after it (the
    other tests expect it)."""
    yield
    helm_release(node, "upgrade", chart_values(prepared.operator, digdir), "--install")


@pytest.fixture(scope="package")
def api_client(node: Node) -> kubernetes.client.ApiClient:
    return kubernetes.config.new_client_from_config(str(node.kubeconfig))


@pytest.fixture(scope="package")
def core(api_client: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api_client)


@pytest.fixture(scope="package")
def custom(api_client: kubernetes.client.ApiClient) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(api_client)
