"""A MaskinportenClient gets a token into its Secret and keeps it fresh."""

from __future__ import annotations

import json

from maskinporten_operator.credentials.jwk import load_jwk
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread
from tests.helpers import decode_jwt

from .helpers import (
    LONG_SCOPE,
    SCOPE,
    SHORT_LIFETIME,
    SHORT_SCOPE,
    Cluster,
    provision,
    register,
)


def test_generated_key_is_published_and_a_token_arrives_once_it_is_registered(
    cluster: Cluster, standin: StandinThread
) -> None:
    client_id = f"{cluster.namespace}-generated"
    cluster.create_client(
        "generated", {"clientId": client_id, "scopes": {"consumes": [{"name": SCOPE}]}}
    )
    ready = cluster.wait_condition("generated", status="False", reason="TokenRequestRejected")
    assert "MP-100" in ready["message"]
    status = cluster.get_client("generated")["status"]
    public_jwk = json.loads(status["publicJwk"])
    assert set(public_jwk) == {"kty", "e", "n", "kid", "alg", "use"}
    key = load_jwk(cluster.secret_data("generated-maskinporten-key")["jwk"], source="key Secret")
    assert key.kid == status["keyId"] == public_jwk["kid"]

    register(standin, client_id, key)
    cluster.wait_condition("generated", status="True", reason="TokenIssued")
    token = cluster.secret_data("generated-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"]
    assert decode_jwt(token).claims["client_id"] == client_id


def test_workload_secret_holds_the_token_and_the_maskinporten_settings(
    cluster: Cluster, standin: StandinThread
) -> None:
    client_id, _ = provision(cluster, standin, "settings")
    cluster.wait_condition("settings", status="True")
    data = cluster.secret_data("settings-maskinporten")
    assert set(data) == {
        "MASKINPORTEN_ACCESS_TOKEN",
        "MASKINPORTEN_ACCESS_TOKEN_EXPIRES_AT",
        "MASKINPORTEN_CLIENT_ID",
        "MASKINPORTEN_SCOPES",
        "MASKINPORTEN_ISSUER",
        "MASKINPORTEN_TOKEN_ENDPOINT",
        "MASKINPORTEN_WELL_KNOWN_URL",
        "MASKINPORTEN_JWKS_URI",
    }
    assert data["MASKINPORTEN_CLIENT_ID"] == client_id
    assert data["MASKINPORTEN_SCOPES"] == SCOPE
    assert data["MASKINPORTEN_ISSUER"] == standin.issuer
    assert data["MASKINPORTEN_TOKEN_ENDPOINT"] == standin.issuer + "token"
    assert data["MASKINPORTEN_WELL_KNOWN_URL"] == (
        standin.issuer + ".well-known/oauth-authorization-server"
    )
    assert data["MASKINPORTEN_JWKS_URI"] == standin.issuer + "jwk"
    assert data["MASKINPORTEN_ACCESS_TOKEN_EXPIRES_AT"].endswith("Z")
    assert decode_jwt(data["MASKINPORTEN_ACCESS_TOKEN"]).claims["scope"] == SCOPE


def test_workload_secret_is_owned_labelled_and_never_marked_for_reloader(
    cluster: Cluster, standin: StandinThread
) -> None:
    provision(cluster, standin, "owned")
    cluster.wait_condition("owned", status="True")
    uid = cluster.get_client("owned")["metadata"]["uid"]
    metadata = cluster.secret("owned-maskinporten")["metadata"]  # type: ignore[index]
    assert [ref["uid"] for ref in metadata["ownerReferences"]] == [uid]
    assert metadata["labels"]["app.kubernetes.io/managed-by"] == "maskinporten-operator"
    assert metadata["labels"]["maskinporten-operator.dev/client"] == "owned"
    everything = {**metadata["labels"], **metadata.get("annotations", {})}
    assert not [name for name in everything if "reloader" in name]


def test_private_jwk_is_added_to_the_workload_secret_only_on_request(
    cluster: Cluster, standin: StandinThread
) -> None:
    _, key = provision(cluster, standin, "withjwk", spec={"includeClientJwk": True})
    cluster.wait_condition("withjwk", status="True")
    data = cluster.secret_data("withjwk-maskinporten")
    assert json.loads(data["MASKINPORTEN_CLIENT_JWK"])["kid"] == key.kid


def test_status_reports_expiry_and_next_refresh_for_kubectl_get(
    cluster: Cluster, standin: StandinThread
) -> None:
    provision(cluster, standin, "status", scopes=(LONG_SCOPE,))
    cluster.wait_condition("status", status="True")
    status = cluster.get_client("status")["status"]
    assert status["tokenLifetimeSeconds"] == 3600
    assert status["lastRefreshTime"] < status["nextRefreshTime"] < status["tokenExpiresAt"]
    assert status["consecutiveFailures"] == 0
    assert status["observedGeneration"] == 1
    sufficient = cluster.condition("status", "LifetimeSufficient")
    assert sufficient["status"] == "True"


def test_token_is_replaced_before_it_expires(cluster: Cluster, standin: StandinThread) -> None:
    provision(cluster, standin, "short", scopes=(SHORT_SCOPE,))
    cluster.wait_condition("short", status="True")
    first = cluster.secret_data("short-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"]
    expires = decode_jwt(first).claims["exp"]

    def replaced() -> str | None:
        token = cluster.secret_data("short-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"]
        return token if token != first else None

    second = eventually(replaced, what="a refreshed token")
    assert decode_jwt(second).claims["iat"] < expires


def test_short_token_lifetime_is_reported_as_unsafe_for_mounted_files(
    cluster: Cluster, standin: StandinThread
) -> None:
    provision(cluster, standin, "unsafe", scopes=(SHORT_SCOPE,))
    cluster.wait_condition("unsafe", status="True")
    sufficient = cluster.condition("unsafe", "LifetimeSufficient")
    assert sufficient["status"] == "False"
    assert sufficient["reason"] == "ShorterThanMountDelay"


def test_scope_change_gets_a_new_token_at_once(cluster: Cluster, standin: StandinThread) -> None:
    provision(cluster, standin, "rescoped", scopes=(SCOPE, LONG_SCOPE))
    cluster.wait_condition("rescoped", status="True")
    cluster.patch_client("rescoped", {"spec": {"scopes": {"consumes": [{"name": LONG_SCOPE}]}}})

    eventually(
        lambda: cluster.get_client("rescoped")["status"].get("observedGeneration") == 2,
        what="the changed spec to be handled",
    )
    token = cluster.secret_data("rescoped-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"]
    assert decode_jwt(token).claims["scope"] == LONG_SCOPE


def test_force_refresh_annotation_gets_a_new_token_at_once(
    cluster: Cluster, standin: StandinThread
) -> None:
    provision(cluster, standin, "forced", scopes=(LONG_SCOPE,))
    cluster.wait_condition("forced", status="True")
    token = cluster.secret_data("forced-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"]
    cluster.force_refresh("forced", "now")
    eventually(
        lambda: cluster.get_client("forced")["status"].get("handledForceRefresh") == "now",
        what="the force-refresh request to be handled",
    )
    assert cluster.secret_data("forced-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"] != token


def test_deleted_workload_secret_is_restored_without_a_new_token_request(
    cluster: Cluster, standin: StandinThread
) -> None:
    client_id, _ = provision(cluster, standin, "restored", scopes=(LONG_SCOPE,))
    cluster.wait_condition("restored", status="True")
    token = cluster.secret_data("restored-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"]
    requests_before = standin.request_count(client_id)
    cluster.core.delete_namespaced_secret("restored-maskinporten", cluster.namespace)
    eventually(lambda: cluster.secret("restored-maskinporten"), what="the Secret to return")
    restored = cluster.secret_data("restored-maskinporten")
    assert restored["MASKINPORTEN_ACCESS_TOKEN"] == token
    assert standin.request_count(client_id) == requests_before


def test_tampered_workload_secret_is_rewritten(cluster: Cluster, standin: StandinThread) -> None:
    provision(cluster, standin, "tampered", scopes=(LONG_SCOPE,))
    cluster.wait_condition("tampered", status="True")
    token = cluster.secret_data("tampered-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"]
    cluster.core.patch_namespaced_secret(
        "tampered-maskinporten",
        cluster.namespace,
        {"stringData": {"MASKINPORTEN_ACCESS_TOKEN": "x"}},
    )

    def repaired() -> bool:
        data = cluster.secret_data("tampered-maskinporten")
        return data["MASKINPORTEN_ACCESS_TOKEN"] == token

    eventually(repaired, what="the tampered Secret to be rewritten")


def test_routine_refreshes_post_no_events(cluster: Cluster, standin: StandinThread) -> None:
    client_id, _ = provision(cluster, standin, "quiet", scopes=(SHORT_SCOPE,))
    cluster.wait_condition("quiet", status="True")
    eventually(
        lambda: standin.request_count(client_id) >= 3,
        what="two routine refreshes",
        timeout=SHORT_LIFETIME * 3,
    )
    reasons = [e["reason"] for e in cluster.events() if e["involvedObject"]["name"] == "quiet"]
    assert reasons == ["TokenIssued"]


def test_each_named_token_is_written_under_its_own_keys(
    cluster: Cluster, standin: StandinThread
) -> None:
    tokens = [{"name": "reader", "scopes": [SCOPE]}, {"name": "long-lived", "scopes": [LONG_SCOPE]}]
    provision(cluster, standin, "several", scopes=(SCOPE, LONG_SCOPE), spec={"tokens": tokens})
    cluster.wait_condition("several", status="True")
    data = cluster.secret_data("several-maskinporten")
    assert decode_jwt(data["MASKINPORTEN_ACCESS_TOKEN_READER"]).claims["scope"] == SCOPE
    assert decode_jwt(data["MASKINPORTEN_ACCESS_TOKEN_LONG_LIVED"]).claims["scope"] == LONG_SCOPE
    assert "MASKINPORTEN_ACCESS_TOKEN" not in data
    status = cluster.get_client("several")["status"]
    assert [(t["name"], t["secretKey"]) for t in status["tokens"]] == [
        ("long-lived", "MASKINPORTEN_ACCESS_TOKEN_LONG_LIVED"),
        ("reader", "MASKINPORTEN_ACCESS_TOKEN_READER"),
    ]


def test_audience_restricted_token_carries_the_resource_as_audience(
    cluster: Cluster, standin: StandinThread
) -> None:
    api = "https://api.example.no/"
    provision(cluster, standin, "audience", spec={"resource": api}, resources=(api,))
    cluster.wait_condition("audience", status="True")
    token = cluster.secret_data("audience-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"]
    assert decode_jwt(token).claims["aud"] == api


def test_altinn_exchange_writes_an_altinn_token_beside_the_maskinporten_one(
    cluster: Cluster, standin: StandinThread
) -> None:
    client_id, _ = provision(cluster, standin, "altinn", spec={"altinnExchange": True})
    cluster.wait_condition("altinn", status="True")
    data = cluster.secret_data("altinn-maskinporten")
    altinn = decode_jwt(data["ALTINN_ACCESS_TOKEN"]).claims
    assert altinn["token_type"] == "altinn"
    assert altinn["client_id"] == client_id
    assert altinn["exp"] == decode_jwt(data["MASKINPORTEN_ACCESS_TOKEN"]).claims["exp"]
