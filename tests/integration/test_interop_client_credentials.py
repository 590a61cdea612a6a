"""The operator against an authorization server nobody on this project wrote: navikt's
mock-oauth2-server (see maskinporten_testbed.mockoauth2), with grantType ClientCredentials."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

from maskinporten_operator.credentials.keys import generate_client_key
from maskinporten_testbed import mockoauth2
from maskinporten_testbed.operatorprocess import OperatorProcess
from tests.helpers import decode_jwt

from .helpers import Cluster

pytestmark = pytest.mark.skipif(not mockoauth2.available(), reason="needs java and mvn")


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mockoauth2.mock_oauth2_server(tmp_path_factory.mktemp("mock-oauth2-server")) as url:
        yield url


@pytest.fixture
def interop(
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    crd_installed: None,
    kubeconfig: Path,
    issuer: str,
    tmp_path: Path,
) -> Iterator[Cluster]:
    """A namespace with its own operator, whose issuer is the mock-oauth2-server."""
    namespace = f"interop-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": namespace}})
    settings = {
        "MASKINPORTEN_OPERATOR_ENVIRONMENT": "custom",
        "MASKINPORTEN_OPERATOR_ISSUER": issuer,
        "MASKINPORTEN_OPERATOR_NAMESPACES": namespace,
        "MASKINPORTEN_OPERATOR_METRICS_PORT": "0",
    }
    operator = OperatorProcess(kubeconfig, tmp_path / "operator.log", settings)
    try:
        yield Cluster(core, custom, namespace)
    finally:
        operator.stop()
        core.delete_namespace(namespace)


def test_client_credentials_with_private_key_jwt_get_a_token_from_another_server(
    interop: Cluster, issuer: str
) -> None:
    interop.put_secret(
        "interop-maskinporten-key", {"jwk": generate_client_key().private_jwk_json()}
    )
    interop.create_client(
        "interop",
        {
            "clientId": "interop-client",
            "grantType": "ClientCredentials",
            "scopes": {"consumes": [{"name": "weather:read"}]},
        },
    )
    interop.wait_condition("interop", status="True", timeout=60)
    data = interop.secret_data("interop-maskinporten")
    claims = decode_jwt(data["MASKINPORTEN_ACCESS_TOKEN"]).claims
    assert (claims["iss"], claims["sub"]) == (issuer, "interop-client")
    assert data["MASKINPORTEN_ISSUER"] == issuer
