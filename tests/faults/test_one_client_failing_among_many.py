"""One client's requests fail (a 5xx burst, answers slower than the timeout, `invalid_grant`):
that client says so and recovers where it can; the others are unaffected — their tokens keep
being refreshed and their Ready never turns False (no Warning Event)."""

from __future__ import annotations

import time

from maskinporten_operator.credentials.keys import generate_client_key
from maskinporten_testbed.standin import StandinThread
from tests.integration.helpers import provision, register

from .bed import QUICK_LIFETIME, QUICK_SCOPE, FaultBed, crashes, report, scaled, token_of

SLOW_SECONDS = 4.0
"""Longer than the operator's request timeout in the test settings (2 s)."""


def test_a_burst_slow_answers_and_invalid_grant_for_some_leave_the_others_refreshed(
    bed: FaultBed, standin: StandinThread
) -> None:
    cluster = bed.namespace()
    bed.start_operator()
    others = [f"other-{i}" for i in range(scaled(5, 20))]
    victims = ["burst", "slow", "revoked"]
    for name in others + victims:
        provision(cluster, standin, name, scopes=(QUICK_SCOPE,))
    bed.ready_within(cluster, others + victims)
    client_id = {name: f"{cluster.namespace}-{name}" for name in others + victims}
    first_tokens = {name: token_of(cluster, name) for name in others}
    window_start = standin.now()

    standin.fail_client(client_id["burst"], 4, status=503)
    standin.set_client_latency(client_id["slow"], SLOW_SECONDS)
    register(standin, client_id["revoked"], generate_client_key(), scopes=(QUICK_SCOPE,))
    for name in victims:
        cluster.force_refresh(name, "fault")
    slow = cluster.wait_condition("slow", status="False", reason="ServerUnreachable", timeout=60)
    burst = cluster.wait_condition("burst", status="False", reason="ServerError", timeout=60)
    revoked = cluster.wait_condition(
        "revoked", status="False", reason="TokenRequestRejected", timeout=60
    )
    time.sleep(scaled(QUICK_LIFETIME, 4 * QUICK_LIFETIME))  # a fixed window: refreshes happen
    standin.set_client_latency(client_id["slow"], 0)
    recovered = bed.ready_within(cluster, ["burst", "slow"], since=window_start)
    window_end = standin.now()

    refreshed = [n for n in others if token_of(cluster, n) != first_tokens[n]]
    others_failed = [
        r
        for n in others
        for r in standin.requests(client_id[n])
        if window_start <= r.at <= window_end and r.status != 200
    ]
    warnings = [
        e
        for e in cluster.events()
        if e["type"] == "Warning" and e["involvedObject"]["name"] in others
    ]
    still_ready = [n for n in others if cluster.condition(n).get("status") == "True"]
    report(
        "one-client-failing",
        others=len(others),
        others_refreshed=len(refreshed),
        others_failed_requests=len(others_failed),
        others_warning_events=len(warnings),
        burst_requests=len(standin.requests(client_id["burst"])),
        recovery_s=[recovered["burst"], recovered["slow"]],
        crashes=len(crashes(bed.logs())),
    )
    assert "timed out" in slow["message"]
    assert "503" in burst["message"] or "server_error" in burst["message"]
    assert "invalid_grant" in revoked["message"]
    assert "MP-100" in revoked["message"]
    assert cluster.condition("revoked")["reason"] == "TokenRequestRejected"
    assert refreshed == others
    assert others_failed == []
    assert warnings == []
    assert still_ready == others
    assert crashes(bed.logs()) == []
