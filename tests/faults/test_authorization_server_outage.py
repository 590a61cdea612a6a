"""The authorization server is down for 1.5 token lifetimes, then back.

While it is down, every resource says so (Ready=False with the server's reason), a token that
is still valid never leaves its Secret, and one that expires stays too, named as expired, with
its past expiry in the metric (README, "Refresh"). Requests during the outage are bounded by
the back-off. Once the server is back, every resource is Ready again.
"""

from __future__ import annotations

import time

from maskinporten_operator.rfc3339 import parse_time
from maskinporten_testbed.standin import StandinThread
from tests.integration.helpers import provision

from .bed import (
    BRIEF_LIFETIME,
    BRIEF_SCOPE,
    LASTING_SCOPE,
    RETRY_BASE_SECONDS,
    FaultBed,
    crashes,
    report,
    scaled,
    summary,
    token_of,
)

EXPIRED_NOTE = "no valid token is in place: the token in the Secret expired at "
SERVER_SAID = "(HTTP 503) temporarily_unavailable: Service unavailable"
EXPIRY_METRIC = "maskinporten_operator_token_expiration_timestamp_seconds"


def test_outage_of_one_and_a_half_lifetimes_keeps_tokens_says_why_and_recovers(
    bed: FaultBed, standin: StandinThread
) -> None:
    cluster = bed.namespace()
    bed.start_operator()
    lasting = [f"lasting-{i}" for i in range(scaled(3, 10))]
    brief = [f"brief-{i}" for i in range(scaled(3, 10))]
    for name in lasting:
        provision(cluster, standin, name, scopes=(LASTING_SCOPE,))
    for name in brief:
        provision(cluster, standin, name, scopes=(BRIEF_SCOPE,))
    bed.ready_within(cluster, lasting + brief)
    tokens = {name: token_of(cluster, name) for name in lasting + brief}
    client_ids = {name: f"{cluster.namespace}-{name}" for name in lasting + brief}

    outage = 1.5 * BRIEF_LIFETIME
    start = standin.now()
    standin.set_outage(start, start + outage)
    for name in lasting:  # a refresh while the server is down: the valid token must stay
        cluster.force_refresh(name, "outage")
    reasons: dict[str, set[str]] = {name: set() for name in lasting + brief}
    said: dict[str, str] = {}
    expired_noted: dict[str, float] = {}
    removed: set[str] = set()
    while standin.now() < start + outage - 1:
        for name in lasting + brief:
            ready = cluster.condition(name)
            if ready.get("status") == "False":
                reasons[name].add(ready["reason"])
                said[name] = ready["message"]
            token = token_of(cluster, name)
            if token is None or (name in lasting and token != tokens[name]):
                removed.add(name)
            if name in brief and EXPIRED_NOTE in ready.get("message", ""):
                expiry = bed.operator.metric(EXPIRY_METRIC, namespace=cluster.namespace, name=name)
                secret = cluster.secret_data(f"{name}-maskinporten")
                published = parse_time(secret["MASKINPORTEN_ACCESS_TOKEN_EXPIRES_AT"])
                if expiry is not None and expiry <= time.time() and abs(expiry - published) < 1:
                    expired_noted.setdefault(name, expiry)
        time.sleep(0.5)
    during = {
        name: sum(r.outcome == "outage:503" for r in standin.requests(client_ids[name]))
        for name in lasting + brief
    }
    recovery = bed.ready_within(
        cluster, lasting + brief, since=dict.fromkeys(brief, start + outage)
    )

    bound = int(outage / RETRY_BASE_SECONDS) + 2
    report(
        "authorization-server-outage",
        lifetime_s=BRIEF_LIFETIME,
        outage_s=outage,
        resources=len(lasting + brief),
        expired_during_outage=len(brief),
        tokens_removed=len(removed),
        expired_reported=len(expired_noted),
        requests_during_outage=sum(during.values()),
        requests_per_resource_max=max(during.values()),
        requests_bound=bound,
        recovery_s_valid=summary([recovery[n] for n in lasting]),
        recovery_s_expired=summary([recovery[n] for n in brief]),
        crashes=len(crashes(bed.logs())),
    )
    assert removed == set()
    assert all(reasons[name] == {"ServerError"} for name in lasting + brief), reasons
    assert all(SERVER_SAID in said[name] for name in lasting + brief), said
    assert set(expired_noted) == set(brief)
    assert all(0 < count <= bound for count in during.values()), during
    assert all(token_of(cluster, name) != tokens[name] for name in brief)
    assert crashes(bed.logs()) == []
