"""Tokens and private keys never reach logs, Events or status, even at DEBUG level."""

from __future__ import annotations

import json

from maskinporten_operator.credentials.keys import generate_client_key
from maskinporten_testbed.operatorprocess import OperatorProcess
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread

from .helpers import LONG_SCOPE, SCOPE, SHORT_SCOPE, Cluster, provision

PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")


def test_tokens_and_private_keys_appear_in_no_log_event_or_status(
    cluster: Cluster, standin: StandinThread, operator: OperatorProcess
) -> None:
    provision(cluster, standin, "served", scopes=(SHORT_SCOPE,), spec={"includeClientJwk": True})
    cluster.create_client("generated", {"clientId": "x", "scopes": {"consumes": [{"name": SCOPE}]}})
    cluster.put_secret(
        "unregistered-maskinporten-key", {"jwk": generate_client_key().private_jwk_json()}
    )
    cluster.create_client(
        "unregistered", {"clientId": "nobody", "scopes": {"consumes": [{"name": LONG_SCOPE}]}}
    )
    cluster.wait_condition("served", status="True")
    cluster.wait_condition("unregistered", status="False")
    first = cluster.secret_data("served-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"]
    eventually(
        lambda: cluster.secret_data("served-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"] != first,
        what="a refresh",
        timeout=30,
    )

    secrets: list[str] = []
    for name in ("served-maskinporten", "served-maskinporten-key", "generated-maskinporten-key"):
        data = cluster.secret_data(name)
        if "MASKINPORTEN_ACCESS_TOKEN" in data:
            secrets += [first.split(".")[2], data["MASKINPORTEN_ACCESS_TOKEN"].split(".")[2]]
        jwk = json.loads(data.get("jwk") or data["MASKINPORTEN_CLIENT_JWK"])
        secrets += [jwk[member] for member in PRIVATE_JWK_MEMBERS]
    statuses = json.dumps(
        [cluster.get_client(n).get("status") for n in ("served", "generated", "unregistered")]
    )
    events = json.dumps([e.get("message") for e in cluster.events()])
    logs = operator.logs()

    assert "DEBUG" in logs
    for secret in secrets:
        assert secret not in logs
        assert secret not in events
        assert secret not in statuses
