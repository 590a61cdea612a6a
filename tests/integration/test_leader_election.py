"""Leader election against the real kube-apiserver: replicas as elections on the test's event
loop, each with its own connection, contending for one Lease."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import kubernetes
import pytest

from maskinporten_operator.runtime.leader import LeaderElection, lease_election
from maskinporten_operator.settings import Settings
from maskinporten_testbed.controlplane import LocalControlPlane
from maskinporten_testbed.polling import eventually, eventually_async

QUICK = Settings(
    leader_election_lease_duration_seconds=6,
    leader_election_renew_deadline_seconds=4,
    leader_election_retry_period_seconds=1,
    leader_election_namespace="default",
)


@dataclass
class Replica:
    """An election and what its callbacks saw: ``terms`` counts leadership starts."""

    election: LeaderElection = field(init=False)
    leading: bool = False
    terms: int = 0
    started_at: float | None = None
    stopped_at: float | None = None

    def started(self) -> None:
        self.leading = True
        self.terms += 1
        self.started_at = time.monotonic()

    async def stopped(self) -> None:
        self.leading = False
        self.stopped_at = time.monotonic()


@pytest.fixture
def lease_name() -> str:
    return f"election-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def replicas(kubeconfig: Path, lease_name: str) -> AsyncIterator[Callable[[], Replica]]:
    """Starts replicas on demand; every one still running is stopped at the end."""
    started: list[Replica] = []
    settings = QUICK.model_copy(update={"leader_election_lease_name": lease_name})

    def start() -> Replica:
        replica = Replica()
        replica.election = lease_election(
            settings,
            kubernetes.config.new_client_from_config(str(kubeconfig)).configuration,
            on_started_leading=replica.started,
            on_stopped_leading=replica.stopped,
            report_leading=lambda _: None,
        )
        replica.election.start()
        started.append(replica)
        return replica

    yield start
    for replica in started:
        await replica.election.stop()


def leaders(*replicas: Replica) -> list[Replica]:
    return [replica for replica in replicas if replica.leading]


async def one_leads(*replicas: Replica) -> Replica:
    found = await eventually_async(
        lambda: leaders(*replicas) or None, what="one replica to lead", interval=0.1
    )
    return found[0]


async def test_of_two_replicas_exactly_one_leads(replicas: Callable[[], Replica]) -> None:
    first, second = replicas(), replicas()

    await one_leads(first, second)
    for _ in range(30):  # a lease duration of renewals and attempts, sampled
        assert len(leaders(first, second)) == 1
        await asyncio.sleep(0.2)
    assert first.terms + second.terms == 1


async def test_a_graceful_stop_hands_the_lease_over(replicas: Callable[[], Replica]) -> None:
    first, second = replicas(), replicas()
    leader = await one_leads(first, second)
    standby = second if leader is first else first

    await leader.election.stop()
    assert leader.stopped_at is not None

    await one_leads(standby)
    print(f"hand-over after a graceful stop: {time.monotonic() - leader.stopped_at:.1f} s")


async def test_a_lease_deleted_by_hand_is_recreated_and_one_leads(
    replicas: Callable[[], Replica], lease_name: str, api_client: kubernetes.client.ApiClient
) -> None:
    first, second = replicas(), replicas()
    leader = await one_leads(first, second)
    leases = kubernetes.client.CoordinationV1Api(api_client)

    await asyncio.to_thread(leases.delete_namespaced_lease, lease_name, "default")

    await asyncio.to_thread(  # on a thread: the electors run on this loop meanwhile
        eventually, lambda: _exists(leases, lease_name), what="the Lease recreated", interval=0.1
    )
    assert leaders(first, second) == [leader], "the leader lost the recreated Lease"
    assert (leader.terms, first.terms + second.terms) == (1, 1), "leadership changed hands"


async def test_a_lease_released_by_hand_is_taken_only_after_its_holder_stopped(
    replicas: Callable[[], Replica], lease_name: str, api_client: kubernetes.client.ApiClient
) -> None:
    """Emptied as a release leaves it, but without the release mark: the replicas wait a lease
    duration, the holder stops at its renew deadline, so the next term (either replica's)
    starts after the holder stopped."""
    first, second = replicas(), replicas()
    leader = await one_leads(first, second)
    leases = kubernetes.client.CoordinationV1Api(api_client)
    lease = await asyncio.to_thread(leases.read_namespaced_lease, lease_name, "default")
    lease.spec.holder_identity = ""
    lease.spec.lease_duration_seconds = 1

    await asyncio.to_thread(leases.replace_namespaced_lease, lease_name, "default", lease)

    await eventually_async(
        lambda: first.terms + second.terms == 2, what="a second term", interval=0.1
    )
    next_term = max(first.started_at or 0.0, second.started_at or 0.0)
    assert leader.stopped_at is not None
    assert next_term >= leader.stopped_at, "two replicas led at once"


async def test_an_api_server_outage_longer_than_the_lease_stops_the_leader(
    replicas: Callable[[], Replica], control_plane: LocalControlPlane | None
) -> None:
    if control_plane is None:
        pytest.skip("needs the local control plane: an existing cluster's API server stays up")
    first, second = replicas(), replicas()
    await one_leads(first, second)

    await asyncio.to_thread(control_plane.stop_apiserver)
    try:
        await eventually_async(
            lambda: not leaders(first, second), what="the leader to stop leading"
        )
        await asyncio.sleep(QUICK.leader_election_lease_duration_seconds)  # outlast the Lease
    finally:
        # On this thread: the API server dies with the thread that started it (PDEATHSIG).
        control_plane.start_apiserver()

    await one_leads(first, second)
    assert len(leaders(first, second)) == 1


def _exists(leases: kubernetes.client.CoordinationV1Api, name: str) -> bool:
    try:
        leases.read_namespaced_lease(name, "default")
    except kubernetes.client.ApiException as error:
        if error.status == 404:
            return False
        raise
    return True
