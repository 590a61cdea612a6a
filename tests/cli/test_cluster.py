"""``keygen --secret`` and ``token --from-cluster`` through a kubeconfig, against the local
control plane (or ``MASKINPORTEN_TEST_KUBECONFIG``)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, cast

import kubernetes
import pytest

from maskinporten_operator.api import GROUP, PLURAL, VERSION
from maskinporten_testbed.network import free_port
from maskinporten_testbed.standin import Client, RegisteredKey, StandinThread

from .helpers import ORG, RESOURCE, SCOPE, issued, run

KEY_ID_ANNOTATION = "maskinporten-operator.dev/key-id"


@pytest.fixture
def cluster_env(kubeconfig: Path, standin: StandinThread) -> dict[str, str]:
    return {
        "KUBECONFIG": str(kubeconfig),
        "MASKINPORTEN_OPERATOR_ENVIRONMENT": "custom",
        "MASKINPORTEN_OPERATOR_ISSUER": standin.issuer,
    }


def create_client(
    custom: kubernetes.client.CustomObjectsApi, namespace: str, name: str, spec: dict[str, object]
) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "MaskinportenClient",
        "metadata": {"name": name},
        "spec": spec,
    }
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)


def registered_client_in_cluster(
    custom: kubernetes.client.CustomObjectsApi,
    namespace: str,
    cluster_env: dict[str, str],
    standin: StandinThread,
    name: str,
    spec: dict[str, object],
    *,
    resources: frozenset[str] = frozenset(),
) -> None:
    """A MaskinportenClient ``name`` (client id ``name``) whose key ``keygen`` wrote into the
    Secret ``<name>-key`` and whose public key is registered on the stand-in's client."""
    keygen = run("keygen", "--secret", f"{namespace}/{name}-key", env=cluster_env)
    [public] = json.loads(keygen.stdout.split("\n", 1)[0])
    standin.register_client(
        Client(
            client_id=name,
            org=ORG,
            scopes=frozenset({SCOPE}),
            keys=(RegisteredKey(public),),
            resources=resources,
        )
    )
    key = {"source": "Existing", "secretName": f"{name}-key"}
    create_client(custom, namespace, name, {"clientId": name, "key": key, **spec})


def test_keygen_writes_a_new_secret_with_the_private_jwk(
    core: kubernetes.client.CoreV1Api, namespace: str, cluster_env: dict[str, str]
) -> None:
    result = run("keygen", "--secret", f"{namespace}/billing-key", env=cluster_env)

    assert result.returncode == 0, result.stderr
    [public] = json.loads(result.stdout.split("\n", 1)[0])
    secret = core.read_namespaced_secret("billing-key", namespace).to_dict()
    private = json.loads(base64.b64decode(secret["data"]["jwk"]))
    assert (private["kid"], private["n"]) == (public["kid"], public["n"])
    assert "d" in private
    assert secret["metadata"]["annotations"][KEY_ID_ANNOTATION] == public["kid"]


def test_keygen_never_overwrites_an_existing_secret(
    core: kubernetes.client.CoreV1Api, namespace: str, cluster_env: dict[str, str]
) -> None:
    body = {"metadata": {"name": "billing-key"}, "stringData": {"jwk": "precious"}}
    core.create_namespaced_secret(namespace, cast(Any, body))

    result = run("keygen", "--secret", f"{namespace}/billing-key", env=cluster_env)

    assert result.returncode == 2
    assert f"Secret {namespace}/billing-key already exists" in result.stderr
    assert result.stdout == ""
    secret = core.read_namespaced_secret("billing-key", namespace).to_dict()
    assert base64.b64decode(secret["data"]["jwk"]) == b"precious"


def test_token_from_a_maskinporten_client_in_the_cluster(
    custom: kubernetes.client.CustomObjectsApi,
    namespace: str,
    cluster_env: dict[str, str],
    standin: StandinThread,
    crd_installed: None,
) -> None:
    registered_client_in_cluster(
        custom,
        namespace,
        cluster_env,
        standin,
        "weather",
        {"scopes": {"consumes": [{"name": SCOPE}]}},
    )

    claims = issued(run("token", "--from-cluster", f"{namespace}/weather", env=cluster_env))

    assert (claims["client_id"], claims["scope"]) == ("weather", SCOPE)


def test_token_from_the_cluster_sends_the_clients_authorization_details(
    custom: kubernetes.client.CustomObjectsApi,
    namespace: str,
    cluster_env: dict[str, str],
    standin: StandinThread,
    crd_installed: None,
) -> None:
    consent = {
        "type": "urn:altinn:consent",
        "id": "0d8b8a2e-6f0c-4a4e-9a39-0f7c1b7b7a11",
        "from": "urn:altinn:person:identifier-no:01017012345",
    }
    spec = {"scopes": {"consumes": [{"name": SCOPE}]}, "authorizationDetails": [consent]}
    registered_client_in_cluster(custom, namespace, cluster_env, standin, "consent", spec)

    claims = issued(run("token", "--from-cluster", f"{namespace}/consent", env=cluster_env))

    assert claims["authorization_details"] == [consent]


def test_token_picks_one_of_the_clients_named_tokens(
    custom: kubernetes.client.CustomObjectsApi,
    namespace: str,
    cluster_env: dict[str, str],
    standin: StandinThread,
    crd_installed: None,
) -> None:
    spec = {
        "scopes": {"consumes": [{"name": SCOPE}]},
        "tokens": [
            {"name": "plain", "scopes": [SCOPE]},
            {"name": "restricted", "scopes": [SCOPE], "resource": RESOURCE},
        ],
    }
    registered_client_in_cluster(
        custom, namespace, cluster_env, standin, "api", spec, resources=frozenset({RESOURCE})
    )

    result = run(
        "token", "--from-cluster", f"{namespace}/api", "--token", "restricted", env=cluster_env
    )

    assert issued(result)["aud"] == RESOURCE


def test_client_credentials_flag_does_not_go_with_from_cluster(
    custom: kubernetes.client.CustomObjectsApi,
    namespace: str,
    cluster_env: dict[str, str],
    crd_installed: None,
) -> None:
    keygen = run("keygen", "--secret", f"{namespace}/weather-key", env=cluster_env)
    assert keygen.returncode == 0, keygen.stderr
    create_client(
        custom,
        namespace,
        "weather",
        {
            "clientId": "weather",
            "scopes": {"consumes": [{"name": SCOPE}]},
            "key": {"source": "Existing", "secretName": "weather-key"},
        },
    )

    result = run(
        "token", "--from-cluster", f"{namespace}/weather", "--client-credentials", env=cluster_env
    )

    assert result.returncode == 2
    assert "--client-credentials do not apply to --from-cluster" in result.stderr


def test_missing_maskinporten_client_exits_2(
    namespace: str, cluster_env: dict[str, str], crd_installed: None
) -> None:
    result = run("token", "--from-cluster", f"{namespace}/nobody", env=cluster_env)

    assert result.returncode == 2
    assert f"MaskinportenClient {namespace}/nobody not found" in result.stderr


def test_unreachable_kubernetes_api_exits_4(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "c", "cluster": {"server": f"https://127.0.0.1:{free_port()}"}}
                ],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )

    result = run("token", "--from-cluster", "team/weather", env={"KUBECONFIG": str(kubeconfig)})

    assert result.returncode == 4
    assert "cannot reach the Kubernetes API for MaskinportenClient team/weather" in result.stderr
