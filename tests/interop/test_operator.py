"""The operator (a MaskinportenClient with grantType ClientCredentials, on the local control
plane) and ``token --from-cluster`` for that resource, against Keycloak and oidc-provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

from maskinporten_operator.credentials.keys import ClientKey
from maskinporten_testbed.operatorprocess import OperatorProcess
from tests.cli.helpers import issued, run
from tests.helpers import decode_jwt
from tests.integration.helpers import Cluster

from .conftest import CLIENT_ID, Server

SPEC = {
    "clientId": CLIENT_ID,
    "grantType": "ClientCredentials",
    "scopes": {"consumes": [{"name": "weather.read"}]},
    "key": {"source": "Existing", "secretName": "interop-key"},
}


@pytest.fixture
def cluster(
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    crd_installed: None,
    namespace: str,
    client_key: ClientKey,
) -> Cluster:
    """The test's namespace with the resource of ``SPEC`` and the client's registered key."""
    cluster = Cluster(core, custom, namespace)
    cluster.put_secret("interop-key", {"jwk": client_key.private_jwk_json()})
    cluster.create_client("interop", SPEC)
    return cluster


def operator_settings(server: Server) -> dict[str, str]:
    return {
        "MASKINPORTEN_OPERATOR_ENVIRONMENT": "custom",
        "MASKINPORTEN_OPERATOR_ISSUER": server.issuer,
    }


@pytest.fixture
def operator(
    cluster: Cluster, kubeconfig: Path, server: Server, tmp_path: Path
) -> Iterator[OperatorProcess]:
    settings = {
        **operator_settings(server),
        "MASKINPORTEN_OPERATOR_NAMESPACES": cluster.namespace,
        "MASKINPORTEN_OPERATOR_METRICS_PORT": "0",
    }
    running = OperatorProcess(kubeconfig, tmp_path / "operator.log", settings)
    yield running
    running.stop()


def test_operator_keeps_a_token_from_the_server_in_the_workload_secret(
    cluster: Cluster, operator: OperatorProcess, server: Server
) -> None:
    cluster.wait_condition("interop", status="True", timeout=60)

    data = cluster.secret_data("interop-maskinporten")
    claims = decode_jwt(data["MASKINPORTEN_ACCESS_TOKEN"]).claims
    assert (claims["iss"], claims["client_id"]) == (server.issuer, CLIENT_ID)
    assert "weather.read" in claims["scope"].split()


def test_token_from_cluster_asks_as_the_resources_grant_type_says(
    cluster: Cluster, kubeconfig: Path, server: Server
) -> None:
    env = {"KUBECONFIG": str(kubeconfig), **operator_settings(server)}

    result = run("token", "--from-cluster", f"{cluster.namespace}/interop", env=env)

    assert issued(result)["client_id"] == CLIENT_ID
