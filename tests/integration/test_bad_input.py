"""Bad input gets a clear condition, costs no data, and never stops the other resources."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

from maskinporten_operator.credentials.keys import generate_client_key
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread

from .helpers import LONG_SCOPE, SCOPE, Cluster, provision, register


def _spec(client_id: str, **extra: object) -> dict[str, object]:
    return {"clientId": client_id, "scopes": {"consumes": [{"name": SCOPE}]}, **extra}


def test_scope_not_granted_to_the_client_is_reported_with_the_servers_description(
    cluster: Cluster, standin: StandinThread
) -> None:
    provision(cluster, standin, "noscope", scopes=(SCOPE,))
    cluster.wait_condition("noscope", status="True")
    cluster.patch_client("noscope", {"spec": {"scopes": {"consumes": [{"name": "test:other"}]}}})
    ready = cluster.wait_condition("noscope", status="False", reason="TokenRequestRejected")
    assert "invalid_scope" in ready["message"]
    assert "MP-201" in ready["message"]


def test_unknown_client_id_is_reported(cluster: Cluster, standin: StandinThread) -> None:
    key = generate_client_key()
    cluster.put_secret("wrongid-maskinporten-key", {"jwk": key.private_jwk_json()})
    cluster.create_client("wrongid", _spec("no-such-client"))
    ready = cluster.wait_condition("wrongid", status="False", reason="TokenRequestRejected")
    assert "invalid_grant" in ready["message"]


def test_key_not_registered_at_the_server_is_reported(
    cluster: Cluster, standin: StandinThread
) -> None:
    client_id = f"{cluster.namespace}-unregistered"
    register(standin, client_id, generate_client_key())
    cluster.put_secret("unreg-maskinporten-key", {"jwk": generate_client_key().private_jwk_json()})
    cluster.create_client("unreg", _spec(client_id))
    ready = cluster.wait_condition("unreg", status="False", reason="TokenRequestRejected")
    assert "MP-100" in ready["message"]


def test_missing_existing_key_secret_names_the_secret_and_is_not_created(
    cluster: Cluster,
) -> None:
    cluster.create_client("nokey", _spec("x", key={"source": "Existing", "secretName": "my-key"}))
    ready = cluster.wait_condition("nokey", status="False", reason="KeySecretMissing")
    assert f"{cluster.namespace}/my-key" in ready["message"]
    assert cluster.secret("my-key") is None


def test_key_secret_without_a_key_is_reported_and_left_untouched(cluster: Cluster) -> None:
    cluster.put_secret("notakey-maskinporten-key", {"jwk": "hello"})
    cluster.create_client("notakey", _spec("x"))
    ready = cluster.wait_condition("notakey", status="False", reason="KeyInvalid")
    assert f"{cluster.namespace}/notakey-maskinporten-key" in ready["message"]
    assert cluster.secret_data("notakey-maskinporten-key") == {"jwk": "hello"}


def test_public_key_only_is_reported(cluster: Cluster) -> None:
    public = json.dumps(generate_client_key().public_jwk())
    cluster.put_secret("public-maskinporten-key", {"jwk": public})
    cluster.create_client("public", _spec("x"))
    ready = cluster.wait_condition("public", status="False", reason="KeyInvalid")
    assert "public key only" in ready["message"]


def test_key_of_the_wrong_size_is_reported(cluster: Cluster) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - must be refused
    pem = small.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    cluster.put_secret("small-maskinporten-key", {"key.pem": pem, "kid": "small"})
    cluster.create_client("small", _spec("x"))
    ready = cluster.wait_condition("small", status="False", reason="KeyInvalid")
    assert "1024-bit" in ready["message"]


def test_pem_key_with_key_id_in_spec_gets_a_token(cluster: Cluster, standin: StandinThread) -> None:
    key = generate_client_key()
    client_id = f"{cluster.namespace}-pem"
    register(standin, client_id, key)
    pem = RSAKey.import_key(json.loads(key.private_jwk_json())).as_pem(private=True).decode()
    cluster.put_secret("pem-key", {"tls.key": pem})
    cluster.create_client(
        "pem",
        _spec(client_id, key={"source": "Existing", "secretName": "pem-key", "keyId": key.kid}),
    )
    cluster.wait_condition("pem", status="True")


def test_deleted_generated_key_is_reported_and_never_silently_regenerated(
    cluster: Cluster, standin: StandinThread
) -> None:
    cluster.create_client("lostkey", _spec(f"{cluster.namespace}-lostkey"))
    eventually(
        lambda: cluster.get_client("lostkey").get("status", {}).get("keyId"),
        what="a generated key",
    )
    cluster.core.delete_namespaced_secret("lostkey-maskinporten-key", cluster.namespace)
    ready = cluster.wait_condition("lostkey", status="False", reason="KeySecretMissing")
    assert "restore the Secret" in ready["message"]
    assert cluster.secret("lostkey-maskinporten-key") is None


def test_unmanaged_secret_of_the_same_name_is_never_overwritten(
    cluster: Cluster, standin: StandinThread
) -> None:
    cluster.put_secret("taken-maskinporten", {"app": "data"})
    provision(cluster, standin, "taken")
    ready = cluster.wait_condition("taken", status="False", reason="SecretConflict")
    assert "spec.secretName" in ready["message"]
    assert cluster.secret_data("taken-maskinporten") == {"app": "data"}


def test_issuer_not_on_the_operators_allowlist_is_refused(cluster: Cluster) -> None:
    cluster.create_client("elsewhere", _spec("x", issuer="https://evil.example/"))
    ready = cluster.wait_condition("elsewhere", status="False", reason="InvalidSpec")
    assert "MASKINPORTEN_OPERATOR_ALLOWED_ISSUERS" in ready["message"]


def test_a_broken_resource_does_not_keep_others_from_their_tokens(
    cluster: Cluster, standin: StandinThread
) -> None:
    cluster.put_secret("broken-maskinporten-key", {"jwk": "not a key"})
    cluster.create_client("broken", _spec("x"))
    provision(cluster, standin, "healthy")
    cluster.wait_condition("healthy", status="True")
    cluster.wait_condition("broken", status="False", reason="KeyInvalid")


def test_server_errors_keep_the_current_token_and_recover(
    cluster: Cluster, standin: StandinThread
) -> None:
    provision(cluster, standin, "weather", scopes=(LONG_SCOPE,))
    cluster.wait_condition("weather", status="True")
    token = cluster.secret_data("weather-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"]
    standin.fail_next(3, status=503)
    cluster.force_refresh("weather")
    ready = cluster.wait_condition("weather", status="False", reason="ServerError")
    assert "stays in place until" in ready["message"]
    assert cluster.secret_data("weather-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"] == token
    assert cluster.get_client("weather")["status"]["consecutiveFailures"] >= 1
    cluster.wait_condition("weather", status="True", timeout=60)
    assert cluster.get_client("weather")["status"]["consecutiveFailures"] == 0


def test_unreachable_server_is_reported_and_the_token_kept(
    cluster: Cluster, standin: StandinThread
) -> None:
    provision(cluster, standin, "offline", scopes=(LONG_SCOPE,))
    cluster.wait_condition("offline", status="True")
    token = cluster.secret_data("offline-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"]
    standin.refuse_connections()
    try:
        cluster.force_refresh("offline")
        cluster.wait_condition("offline", status="False", reason="ServerUnreachable")
    finally:
        standin.accept_connections()
    assert cluster.secret_data("offline-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"] == token
    cluster.wait_condition("offline", status="True", timeout=60)


def test_slow_server_times_out_and_is_reported(cluster: Cluster, standin: StandinThread) -> None:
    provision(cluster, standin, "slow", scopes=(LONG_SCOPE,))
    cluster.wait_condition("slow", status="True")
    standin.set_latency(5)
    try:
        cluster.force_refresh("slow")
        ready = cluster.wait_condition("slow", status="False", reason="ServerUnreachable")
    finally:
        standin.set_latency(0)
    assert "timed out" in ready["message"]
