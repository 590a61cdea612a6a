"""A user's key Secret labelled for its MaskinportenClient is watched: a change is used at once."""

from __future__ import annotations

from maskinporten_operator.api import CLIENT_LABEL
from maskinporten_operator.credentials.keys import ClientKey, generate_client_key
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import Client, RegisteredKey, StandinThread

from .helpers import LONG_SCOPE, ORG, Cluster

NAME = "labelled"
KEY_SECRET = f"{NAME}-maskinporten-key"


def _labelled_key_secret(cluster: Cluster, key: ClientKey) -> dict[str, object]:
    return {
        "metadata": {"name": KEY_SECRET, "labels": {CLIENT_LABEL: NAME}},
        "stringData": {"jwk": key.private_jwk_json()},
    }


def test_a_changed_key_in_a_labelled_key_secret_is_used_before_the_next_refresh(
    cluster: Cluster, standin: StandinThread
) -> None:
    client_id = f"{cluster.namespace}-{NAME}"
    first, second = generate_client_key(), generate_client_key()
    standin.register_client(
        Client(
            client_id=client_id,
            org=ORG,
            scopes=frozenset({LONG_SCOPE}),
            keys=(RegisteredKey(first.public_jwk()), RegisteredKey(second.public_jwk())),
        )
    )
    cluster.core.create_namespaced_secret(cluster.namespace, _labelled_key_secret(cluster, first))
    cluster.create_client(
        NAME,
        {
            "clientId": client_id,
            "scopes": {"consumes": [{"name": LONG_SCOPE}]},
            "key": {"source": "Existing"},
        },
    )
    cluster.wait_condition(NAME, status="True")
    assert cluster.get_client(NAME)["status"]["keyId"] == first.kid

    cluster.core.replace_namespaced_secret(
        KEY_SECRET, cluster.namespace, _labelled_key_secret(cluster, second)
    )

    eventually(  # the token lives an hour: only the watch can make this happen sooner
        lambda: cluster.get_client(NAME)["status"].get("keyId") == second.kid,
        what="the new key in use",
        timeout=60,
    )
