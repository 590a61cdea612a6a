"""Grant variants and key formats, end to end through the operator and the stand-in."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from joserfc.jwk import RSAKey

from maskinporten_operator.credentials.keys import ClientKey, generate_client_key
from maskinporten_testbed.standin import Client, RegisteredKey, StandinThread
from tests.helpers import decode_jwt

from .helpers import ORG, SCOPE, Cluster

OTHER_ORG = "310000001"


def _client(
    cluster: Cluster, standin: StandinThread, name: str, **registration: Any
) -> tuple[str, ClientKey]:
    client_id = f"{cluster.namespace}-{name}"
    key = generate_client_key()
    standin.register_client(
        Client(
            client_id=client_id,
            org=ORG,
            scopes=frozenset({SCOPE}),
            keys=(RegisteredKey(key.public_jwk()),),
            **registration,
        )
    )
    return client_id, key


def _spec(client_id: str, **extra: object) -> dict[str, object]:
    return {"clientId": client_id, "scopes": {"consumes": [{"name": SCOPE}]}, **extra}


def _token(cluster: Cluster, name: str) -> dict[str, Any]:
    cluster.wait_condition(name, status="True")
    token = cluster.secret_data(f"{name}-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"]
    return decode_jwt(token).claims


def test_encrypted_pem_key_with_a_password_secret_gets_a_token(
    cluster: Cluster, standin: StandinThread
) -> None:
    client_id, key = _client(cluster, standin, "encrypted")
    raw = RSAKey.import_key(json.loads(key.private_jwk_json())).raw_value
    pem = raw.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret"),
    )
    cluster.put_binary_secret("encrypted-key", {"key.pem": pem, "password": b"s3cret"})
    key_spec = {
        "source": "Existing",
        "secretName": "encrypted-key",
        "keyId": key.kid,
        "passwordSecretRef": {"name": "encrypted-key"},
    }
    cluster.put_secret("encrypted-maskinporten-key", {})
    cluster.create_client("encrypted", _spec(client_id, key=key_spec))
    assert _token(cluster, "encrypted")["client_id"] == client_id


def test_resources_list_makes_a_token_for_several_audiences(
    cluster: Cluster, standin: StandinThread
) -> None:
    audiences = ["https://a.example.no/", "https://b.example.no/"]
    client_id, key = _client(cluster, standin, "audiences", resources=frozenset(audiences))
    cluster.put_secret("audiences-maskinporten-key", {"jwk": key.private_jwk_json()})
    cluster.create_client("audiences", _spec(client_id, resources=audiences))
    assert _token(cluster, "audiences")["aud"] == audiences


def test_consumer_org_acts_for_the_delegating_organisation(
    cluster: Cluster, standin: StandinThread
) -> None:
    delegations = {OTHER_ORG: frozenset({SCOPE})}
    client_id, key = _client(cluster, standin, "delegated", delegations=delegations)
    cluster.put_secret("delegated-maskinporten-key", {"jwk": key.private_jwk_json()})
    cluster.create_client("delegated", _spec(client_id, consumerOrg=OTHER_ORG))
    assert _token(cluster, "delegated")["consumer"]["ID"] == f"0192:{OTHER_ORG}"


def test_system_user_org_is_sent_as_authorization_details(
    cluster: Cluster, standin: StandinThread
) -> None:
    client_id, key = _client(cluster, standin, "systemuser")
    cluster.put_secret("systemuser-maskinporten-key", {"jwk": key.private_jwk_json()})
    cluster.create_client("systemuser", _spec(client_id, systemUserOrg=OTHER_ORG))
    details = _token(cluster, "systemuser")["authorization_details"]
    assert details[0]["systemuser_org"]["ID"] == f"0192:{OTHER_ORG}"
