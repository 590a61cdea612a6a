"""The CRD teaches and guards the API: kubectl explain, schema patterns, CEL rules, columns."""

from __future__ import annotations

import subprocess
from pathlib import Path

import kubernetes
import pytest

from maskinporten_operator.credentials.keys import generate_client_key
from maskinporten_testbed import binaries
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread

from .helpers import SCOPE, Cluster, provision, register


def kubectl(kubeconfig: Path, *args: str) -> str:
    command = [str(binaries.KUBERNETES.path("kubectl")), f"--kubeconfig={kubeconfig}", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def _rejection(cluster: Cluster, spec: dict[str, object]) -> str:
    with pytest.raises(kubernetes.client.ApiException) as caught:
        cluster.create_client("invalid", spec)
    assert caught.value.status == 422
    return str(caught.value.body)


def _explain(kubeconfig: Path, field: str) -> str:
    """kubectl explain, retried while the API server publishes a new CRD's OpenAPI schema."""

    def attempt() -> str | None:
        try:
            return kubectl(kubeconfig, "explain", field)
        except subprocess.CalledProcessError:
            return None

    return eventually(attempt, what=f"kubectl explain {field}")


def test_kubectl_explain_describes_every_spec_field(kubeconfig: Path, crd_installed: None) -> None:
    explained = _explain(kubeconfig, "maskinportenclient.spec")
    for field in ("clientId", "scopes", "secretName", "resource", "consumerOrg", "key", "refresh"):
        assert field in explained
    key = _explain(kubeconfig, "maskinportenclient.spec.key.deletionPolicy")
    assert "accidental delete" in key


def test_scope_names_must_look_like_scopes(cluster: Cluster) -> None:
    body = _rejection(cluster, {"clientId": "x", "scopes": {"consumes": [{"name": "no colon"}]}})
    assert "spec.scopes.consumes[0].name" in body


def test_maskinporten_scope_names_are_prefix_colon_name(cluster: Cluster) -> None:
    body = _rejection(cluster, {"clientId": "x", "scopes": {"consumes": [{"name": "api1"}]}})
    assert "Maskinporten scopes are named prefix:name" in body


def test_client_credentials_take_scope_names_as_their_server_names_them(cluster: Cluster) -> None:
    spec = {
        "clientId": "x",
        "grantType": "ClientCredentials",
        "scopes": {"consumes": [{"name": "api1"}, {"name": "weather.read"}]},
    }

    assert cluster.create_client("generic", spec)["spec"]["scopes"] == spec["scopes"]


def test_client_credentials_need_the_other_servers_client_id(cluster: Cluster) -> None:
    spec = {"grantType": "ClientCredentials", "scopes": {"consumes": [{"name": "api1"}]}}

    assert "give that server's clientId" in _rejection(cluster, spec)


def test_at_least_one_scope_is_required(cluster: Cluster) -> None:
    body = _rejection(cluster, {"clientId": "x", "scopes": {"consumes": []}})
    assert "spec.scopes.consumes" in body


def test_consumer_org_must_be_a_nine_digit_organisation_number(cluster: Cluster) -> None:
    spec = {"clientId": "x", "scopes": {"consumes": [{"name": SCOPE}]}, "consumerOrg": "12345"}
    assert "spec.consumerOrg" in _rejection(cluster, spec)


def test_deleting_a_key_the_user_brought_cannot_be_requested(cluster: Cluster) -> None:
    spec = {
        "clientId": "x",
        "scopes": {"consumes": [{"name": SCOPE}]},
        "key": {"source": "Existing", "deletionPolicy": "Delete"},
    }
    assert "never deletes a key you brought" in _rejection(cluster, spec)


def test_workload_secret_cannot_be_the_key_secret(cluster: Cluster) -> None:
    spec = {
        "clientId": "x",
        "scopes": {"consumes": [{"name": SCOPE}]},
        "secretName": "same",
        "key": {"secretName": "same"},
    }
    assert "must differ" in _rejection(cluster, spec)


def test_kubectl_get_shows_readiness_client_expiry_and_secret(
    cluster: Cluster, kubeconfig: Path
) -> None:
    cluster.create_client(
        "listed", {"clientId": "listed-id", "scopes": {"consumes": [{"name": SCOPE}]}}
    )
    cluster.wait_condition("listed", status="False")
    table = kubectl(kubeconfig, "get", "mpc", "-n", cluster.namespace)
    header, row = table.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "CLIENT", "ID", "TOKEN", "EXPIRES", "SECRET", "AGE"]
    assert row.split()[:3] == ["listed", "False", "listed-id"]
    assert "listed-maskinporten" in row


LONGEST_WITH_DEFAULT_SECRET_NAMES = 236


def test_name_of_64_characters_becomes_ready(cluster: Cluster, standin: StandinThread) -> None:
    name = "weather-forecast-integration-for-the-northern-region-weather-fzz"
    assert len(name) == 64
    provision(cluster, standin, name)

    assert cluster.wait_condition(name, status="True")["reason"] == "TokenIssued"


def test_longest_name_with_default_secret_names_becomes_ready(
    cluster: Cluster, standin: StandinThread
) -> None:
    name = "a" * LONGEST_WITH_DEFAULT_SECRET_NAMES
    provision(cluster, standin, name)

    assert cluster.wait_condition(name, status="True")["reason"] == "TokenIssued"
    assert cluster.secret_data(f"{name}-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"]


def test_name_too_long_for_the_default_key_secret_name_is_refused_at_apply(
    cluster: Cluster,
) -> None:
    spec = {"clientId": "x", "scopes": {"consumes": [{"name": SCOPE}]}, "secretName": "tokens"}
    with pytest.raises(kubernetes.client.ApiException) as caught:
        cluster.create_client("a" * (LONGEST_WITH_DEFAULT_SECRET_NAMES + 1), spec)

    assert caught.value.status == 422
    assert "needs spec.key.secretName" in str(caught.value.body)


def test_longest_name_with_its_secret_names_given_becomes_ready(
    cluster: Cluster, standin: StandinThread
) -> None:
    name = "b" * 253
    client_id = f"{cluster.namespace}-longest"
    key = generate_client_key()
    cluster.put_secret("longest-key", {"jwk": key.private_jwk_json()})
    register(standin, client_id, key)
    cluster.create_client(
        name,
        {
            "clientId": client_id,
            "scopes": {"consumes": [{"name": SCOPE}]},
            "secretName": "longest-tokens",
            "key": {"secretName": "longest-key", "source": "Existing"},
        },
    )

    assert cluster.wait_condition(name, status="True")["reason"] == "TokenIssued"
