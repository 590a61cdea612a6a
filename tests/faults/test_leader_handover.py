"""Two replicas elect a leader through a Lease; the leader is SIGKILLed again and again, then
stopped gracefully (SIGTERM) again and again, a new standby started after each.

With the default election timings (lease 15 s, renew deadline 10 s, retry period 2 s) and
60-second tokens: no token is requested twice within a refresh period (at most one replica
acts), no Secret ever holds an expired token, no key is regenerated. Printed per kind of
hand-over: the seconds from the old leader's death (its process gone) until the other replica
leads, and until its first token request (goal: at most the lease duration + 5 s). A refresh of
one client is asked for right after each death, so the first token request is the new leader's
first act (scheduled refreshes are spread over the refresh period, and a refresh plan survives
the hand-over). Double refreshes are counted over the other clients; a token issued to a leader
that died before writing it is not one (the next leader must refresh again), and is counted
apart.
"""

from __future__ import annotations

import signal
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from maskinporten_testbed.operatorprocess import OperatorProcess
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread
from tests.helpers import decode_jwt
from tests.integration.helpers import Cluster, provision

from .bed import (
    DEADLINE,
    MINUTE_LIFETIME,
    MINUTE_SCOPE,
    FaultBed,
    crashes,
    key_ids,
    report,
    scaled,
    token_of,
)

HANDOVERS = scaled(3, 20)
"""Of each kind: SIGKILL, then SIGTERM."""
CLIENTS = scaled(8, 20)
GENERATED = 2
"""Clients whose key the operator generates (unregistered: their token requests fail)."""
DEFAULT_ELECTION = {
    "MASKINPORTEN_OPERATOR_LEADER_ELECTION_LEASE_DURATION_SECONDS": "15",
    "MASKINPORTEN_OPERATOR_LEADER_ELECTION_RENEW_DEADLINE_SECONDS": "10",
    "MASKINPORTEN_OPERATOR_LEADER_ELECTION_RETRY_PERIOD_SECONDS": "2",
    "MASKINPORTEN_OPERATOR_METRICS_PORT": "0",  # two replicas side by side
}
PROBE = "probe"
"""The client whose refresh is asked for at each leader's death: the new leader's first act."""
ClientIds = dict[str, str]
"""Client id -> MaskinportenClient name."""
DOUBLE_WITHIN = 0.4 * MINUTE_LIFETIME
"""Two tokens for one client closer than this were a double refresh: the operator refreshes at
half the lifetime, pulled earlier by at most a tenth of that."""


def the_leader(bed: FaultBed) -> OperatorProcess:
    def leading() -> OperatorProcess | None:
        found = [operator for operator in bed.live_operators() if operator.leads()]
        assert len(found) <= 1, "two live replicas say they lead"
        return found[0] if found else None

    return eventually(leading, what="one replica to lead", timeout=DEADLINE)


@dataclass
class Handover:
    """Seconds from the old leader's death until the other replica leads (as polled from its
    log), and until its first token request; the tokens issued to the old leader that it
    never wrote (client id, when)."""

    leads: float
    refreshes: float
    unwritten: set[tuple[str, float]]


def hand_over(
    bed: FaultBed, standin: StandinThread, how: signal.Signals, cluster: Cluster, ids: ClientIds
) -> Handover:
    """Stop the leader with ``how`` and ask for a refresh of :data:`PROBE` at once, measured up
    to the new leader's first token request for one of ``ids``. A new standby is started
    afterwards."""
    leader = the_leader(bed)
    (standby,) = [operator for operator in bed.live_operators() if operator is not leader]
    leader.process.send_signal(how)
    leader.process.wait(timeout=60)
    died = standin.now()
    unwritten = unwritten_tokens(standin, cluster, ids, died)
    cluster.force_refresh(PROBE, f"{how.name}-{died}")
    eventually(standby.leads, what="the standby to lead", timeout=DEADLINE, interval=0.1)
    leads = standin.now()
    first = eventually(
        lambda: next((r.at for r in standin.requests() if r.at >= died and r.client_id in ids), 0),
        what="the new leader's first token request",
        timeout=DEADLINE,
        interval=0.1,
    )
    bed.start_operator(leading=False)
    return Handover(leads - died, first - died, unwritten)


def unwritten_tokens(
    standin: StandinThread, cluster: Cluster, ids: ClientIds, died: float
) -> set[tuple[str, float]]:
    """The tokens issued before the leader's death that are newer than the one its client's
    Secret holds now: the leader died before writing them. Read at once after the death:
    after a SIGKILL no replica leads until the Lease runs out; after a SIGTERM the standby may
    lead within its retry period, and a token it writes first hides an unwritten one from this
    count, which can then only report a double refresh, never hide one."""
    held = {client_id: token_of(cluster, name) for client_id, name in ids.items()}
    issued = {
        client_id: decode_jwt(token).claims["iat"] for client_id, token in held.items() if token
    }
    return {
        (r.client_id, r.at)
        for r in standin.requests()
        if r.status == 200
        and r.client_id in issued
        and r.at <= died
        and int(r.at) > issued[r.client_id]
    }


def expired_tokens(cluster: Cluster, names: Iterable[str], now: float) -> int:
    tokens = [token_of(cluster, name) for name in names]
    return sum(1 for token in tokens if token and decode_jwt(token).claims["exp"] <= now)


def double_refreshes(
    standin: StandinThread, ids: Iterable[str], unwritten: set[tuple[str, float]]
) -> int:
    """Tokens for one client closer than :data:`DOUBLE_WITHIN`, but for one the leader that got
    it died before writing (:func:`unwritten_tokens`)."""
    issued: dict[str, list[float]] = defaultdict(list)
    for request in standin.requests():
        if request.client_id in ids and request.status == 200:
            issued[request.client_id].append(request.at)
    return sum(
        1
        for client_id, times in issued.items()
        for earlier, later in zip(sorted(times), sorted(times)[1:], strict=False)
        if later - earlier < DOUBLE_WITHIN and (client_id, earlier) not in unwritten
    )


def test_leader_handovers_refresh_nothing_twice_and_let_no_token_expire(
    bed: FaultBed, standin: StandinThread
) -> None:
    bed.settings.update(DEFAULT_ELECTION)
    cluster = bed.namespace()
    names = [f"minute-{index}" for index in range(CLIENTS)]
    ids: ClientIds = {}
    for name in names:  # spread over a refresh period: one falls due every few seconds
        ids[provision(cluster, standin, name, scopes=(MINUTE_SCOPE,))[0]] = name
        time.sleep(MINUTE_LIFETIME / 2 / CLIENTS)
    probe_id, _ = provision(cluster, standin, PROBE, scopes=(MINUTE_SCOPE,))
    for index in range(GENERATED):
        cluster.create_client(
            f"gen-{index}",
            {
                "clientId": f"{cluster.namespace}-unregistered-{index}",
                "scopes": {"consumes": [{"name": MINUTE_SCOPE}]},
            },
        )
    bed.start_operator()
    bed.start_operator(leading=False)
    bed.ready_within(cluster, [*names, PROBE])
    eventually(lambda: len(key_ids(cluster)) == CLIENTS + 1 + GENERATED, what="every key Secret")
    kids = key_ids(cluster)
    standin.clear_requests()

    leading: dict[str, list[float]] = {"sigkill": [], "sigterm": []}
    refreshing: dict[str, list[float]] = {"sigkill": [], "sigterm": []}
    expired = 0
    unwritten: dict[str, set[tuple[str, float]]] = {"sigkill": set(), "sigterm": set()}
    for how in [signal.SIGKILL] * HANDOVERS + [signal.SIGTERM] * HANDOVERS:
        handover = hand_over(bed, standin, how, cluster, {**ids, probe_id: PROBE})
        leading[how.name.lower()].append(handover.leads)
        refreshing[how.name.lower()].append(handover.refreshes)
        unwritten[how.name.lower()] |= handover.unwritten
        expired += expired_tokens(cluster, names, standin.now())

    doubles = double_refreshes(standin, ids, unwritten["sigkill"] | unwritten["sigterm"])
    regenerated = sorted(name for name, kid in key_ids(cluster).items() if kids.get(name) != kid)
    crashed = crashes(bed.logs())
    report(
        "leader-handover",
        clients=CLIENTS,
        handovers=HANDOVERS,
        **{
            f"{kind}_{what}_{figure}": value
            for kind in ("sigkill", "sigterm")
            for what, seconds in (("leads", leading[kind]), ("refresh", refreshing[kind]))
            for figure, value in (("p50", _median(seconds)), ("max", max(seconds)))
        },
        double_refreshes=doubles,
        sigkill_unwritten_tokens=len(unwritten["sigkill"]),
        sigterm_unwritten_tokens=len(unwritten["sigterm"]),
        expired_tokens=expired,
        keys_regenerated=len(regenerated),
        crashes=len(crashed),
    )
    assert doubles == 0
    assert expired == 0
    assert regenerated == []
    assert crashed == []


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
