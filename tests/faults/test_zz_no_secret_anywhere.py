"""Last of the fault suite (files run in name order): after every fault above, no private-key
parameter (a JWK's d, p, q, dp, dq, qi) and no access token the stand-in ever issued appears in
the operator's logs (DEBUG included), its Events, its status or the exception messages in them.

Run alone, it scans what its own resources exposed: a generated key, a key served to the
workload, a rejected grant, a failed refresh.
"""

from __future__ import annotations

import json

from maskinporten_operator.credentials.keys import generate_client_key
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread
from tests.integration.helpers import provision

from .bed import QUICK_SCOPE, Exposure, FaultBed, private_parameters, report, token_of


def test_no_private_key_parameter_or_token_in_any_log_event_or_status(
    bed: FaultBed, standin: StandinThread, exposure: Exposure
) -> None:
    cluster = bed.namespace()
    bed.start_operator()
    provision(cluster, standin, "served", scopes=(QUICK_SCOPE,), spec={"includeClientJwk": True})
    cluster.create_client(
        "generated", {"clientId": "nobody", "scopes": {"consumes": [{"name": QUICK_SCOPE}]}}
    )
    unregistered = generate_client_key().private_jwk_json()
    cluster.put_secret("refused-maskinporten-key", {"jwk": unregistered})
    scopes = {"consumes": [{"name": QUICK_SCOPE}]}
    cluster.create_client("refused", {"clientId": f"{cluster.namespace}-served", "scopes": scopes})
    bed.ready_within(cluster, ["served"])
    cluster.wait_condition("refused", status="False", reason="TokenRequestRejected")
    standin.fail_next(1, status=500)
    first = token_of(cluster, "served")
    cluster.force_refresh("served", "scan")
    eventually(lambda: token_of(cluster, "served") != first, what="a refresh after a failure")
    bed.collect()

    issued = {token.split(".")[2] for token in standin.issued_tokens()}
    issued |= set(standin.issued_tokens())
    hits = exposure.hits(issued)
    report(
        "secret-scan",
        texts=len(exposure.texts),
        text_kb=sum(len(t) for t in exposure.texts.values()) // 1000,
        debug_lines=sum(t.count("[DEBUG") for t in exposure.texts.values()),
        private_parameters=len(exposure.secrets),
        tokens_issued=len(standin.issued_tokens()),
        hits=len(hits),
    )
    assert any("[DEBUG" in t for t in exposure.texts.values())
    assert hits == []


def test_the_scan_finds_a_planted_key_parameter_and_token() -> None:
    key = generate_client_key().private_jwk_json()
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0." + "s1gnature-" * 30
    planted = Exposure(secrets=private_parameters({"jwk": key, "MASKINPORTEN_ACCESS_TOKEN": token}))
    d = private_parameters({"jwk": key}) & {json.loads(key)["d"]}
    planted.add_text("log", f"[DEBUG] refreshing with {next(iter(d))} ok")
    planted.add_text("events", json.dumps({"message": f"Bearer {token}"}))

    assert {where for where, _ in planted.hits(set())} == {"log", "events"}
