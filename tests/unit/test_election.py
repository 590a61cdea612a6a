"""Leader election's decisions over the observed Lease, on a frozen monotonic clock."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from maskinporten_operator.election import (
    Claim,
    Create,
    Elector,
    LeaseRecord,
    Replace,
    Timings,
    Wait,
    released,
)

ME = "operator-a-1f2e3d"
THEM = "operator-b-4c5b6a"
TIMINGS = Timings(lease_duration=15.0, renew_deadline=10.0, retry_period=2.0)


@dataclass
class FrozenClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def record(
    holder: str, version: str, *, duration: int = 15, renewed: str | None = None
) -> LeaseRecord:
    return LeaseRecord(holder, duration, transitions=3, version=version, renewed=renewed)


def elector(clock: FrozenClock) -> Elector:
    return Elector(ME, TIMINGS, clock)


def claims(sightings: list[tuple[float, LeaseRecord | None]], at: float) -> Claim:
    """What ``ME``, a standby, claims at ``at`` seconds after seeing each record at its time
    (seconds after the start)."""
    clock = FrozenClock()
    start = clock.now
    me = elector(clock)
    for seen, lease in sightings:
        clock.now = start + seen
        me.claim(lease)
    clock.now = start + at
    return _relative(me.claim(sightings[-1][1]), start)


def _relative(claim: Claim, start: float) -> Claim:
    return Wait(claim.until - start) if isinstance(claim, Wait) else claim


TAKEN = Replace(LeaseRecord(ME, 15, transitions=4, version="7"), acquiring=True)


@pytest.mark.parametrize(
    ("case", "sightings", "at", "expected"),
    [
        ("no Lease yet: wait a lease duration", [(0, None)], 0, Wait(15)),
        (
            "no Lease for a lease duration: create it",
            [(0, None)],
            15,
            Create(LeaseRecord(ME, 15, 0)),
        ),
        (
            "a released Lease: wait its one second",
            [(0, released(record(THEM, "7")))],
            0.5,
            Wait(1),
        ),
        (
            "a released Lease after its second: take it",
            [(0, released(record(THEM, "7")))],
            1,
            TAKEN,
        ),
        (
            "a Lease emptied by hand: wait a lease duration, its holder may still act",
            [(0, record("", "7", duration=1))],
            1,
            Wait(15),
        ),
        (
            "a Lease emptied by hand, unchanged for a lease duration: take it",
            [(0, record("", "7", duration=1))],
            15,
            TAKEN,
        ),
        (
            "a held Lease with a release mark: wait a lease duration",
            [(0, replace(record(THEM, "7", duration=1), released_by=THEM))],
            1,
            Wait(15),
        ),
        ("held by another and fresh: wait", [(0, record(THEM, "7"))], 14.9, Wait(15)),
        (
            "held by another, unchanged for its duration: take it",
            [(0, record(THEM, "7"))],
            15,
            TAKEN,
        ),
        (
            "held by another and renewed meanwhile: wait from the renewal",
            [(0, record(THEM, "6")), (10, record(THEM, "7"))],
            15,
            Wait(25),
        ),
        (
            "the holder's own longer duration is waited out",
            [(0, record(THEM, "7", duration=60))],
            30,
            Wait(60),
        ),
        (
            "a duration shortened by hand does not shorten the wait",
            [(0, record(THEM, "7", duration=1))],
            5,
            Wait(15),
        ),
        (
            "a renewTime far in the past does not make a Lease expired",
            [(0, record(THEM, "7", renewed="1970-01-01T00:00:00.000000Z"))],
            1,
            Wait(15),
        ),
        (
            "a renewTime in the future does not extend a Lease",
            [(0, record(THEM, "7", renewed="2100-01-01T00:00:00.000000Z"))],
            15,
            TAKEN,
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_standby_claims(
    case: str, sightings: list[tuple[float, LeaseRecord | None]], at: float, expected: Claim
) -> None:
    assert claims(sightings, at) == expected


def leader(clock: FrozenClock) -> Elector:
    """``ME``, leading since it renewed the Lease (version 7) at ``clock.now``."""
    me = elector(clock)
    me.claimed(record(ME, "7"), sent_at=clock.now)
    return me


def test_a_successful_claim_leads() -> None:
    assert leader(FrozenClock()).is_leading()


def test_the_leader_renews_its_own_record() -> None:
    clock = FrozenClock()
    me = leader(clock)
    clock.now += TIMINGS.retry_period

    assert me.claim(record(ME, "7")) == Replace(record(ME, "7"), acquiring=False)


@pytest.mark.parametrize(
    ("since_renewal", "leading"),
    [(0.0, True), (9.99, True), (10.0, False), (15.0, False)],
    ids=["just renewed", "renewals failing within the deadline", "at the deadline", "past it"],
)
def test_leadership_lasts_until_the_renew_deadline(since_renewal: float, leading: bool) -> None:
    clock = FrozenClock()
    me = leader(clock)
    clock.now += since_renewal

    assert me.is_leading() is leading


def test_a_renewal_moves_the_deadline_from_when_it_was_sent() -> None:
    clock = FrozenClock()
    me = leader(clock)
    sent = clock.now + 8
    clock.now = sent + 1.5  # the answer came late
    me.claimed(record(ME, "8"), sent_at=sent)

    assert me.leading_until() == sent + TIMINGS.renew_deadline


def test_a_leader_stops_at_once_when_it_sees_another_holder() -> None:
    clock = FrozenClock()
    me = leader(clock)
    clock.now += 1

    claim = me.claim(record(THEM, "8"))  # edited by hand, or taken after a long pause

    assert not me.is_leading()
    assert claim == Wait(clock.now + 15)


def test_a_lease_deleted_under_the_leader_is_recreated_at_once() -> None:
    clock = FrozenClock()
    me = leader(clock)
    clock.now += TIMINGS.retry_period

    assert me.claim(None) == Create(LeaseRecord(ME, 15, 0))


def test_a_standby_waits_a_lease_duration_after_the_lease_is_deleted() -> None:
    clock = FrozenClock()
    me = elector(clock)
    me.claim(record(THEM, "7"))
    clock.now += 5
    deleted_seen = clock.now

    assert me.claim(None) == Wait(deleted_seen + TIMINGS.lease_duration)


def test_a_standby_that_lost_the_race_to_create_waits_anew_when_the_lease_is_gone() -> None:
    """It saw no Lease, its create found one (another replica's), and the next read shows none
    (deleted meanwhile): the Lease existed in between, so the wait starts again."""
    clock = FrozenClock()
    me = elector(clock)
    me.claim(None)
    clock.now += TIMINGS.lease_duration
    assert isinstance(me.claim(None), Create)
    me.write_failed()  # HTTP 409: it exists
    clock.now += 1

    assert me.claim(None) == Wait(clock.now + TIMINGS.lease_duration)


def test_a_failed_write_leads_nothing() -> None:
    """A conflict (another replica created or replaced the Lease first) is never reported to the
    elector as claimed; the next read shows the winner."""
    clock = FrozenClock()
    me = elector(clock)
    me.claim(None)
    clock.now += TIMINGS.lease_duration
    assert isinstance(me.claim(None), Create)

    assert not me.is_leading()
    assert isinstance(me.claim(record(THEM, "1")), Wait)


def test_a_standby_can_take_over_only_after_the_old_leader_stopped() -> None:
    """Fencing: the standby sees the leader's last renewal no earlier than it was sent, so the
    earliest take-over comes a lease duration later, after the leader's renew deadline."""
    clock = FrozenClock()
    old = leader(clock)
    renewal_sent = clock.now
    standby = Elector(THEM, TIMINGS, clock)
    clock.now += 0.3  # the standby reads the renewed Lease a little later
    standby.claim(record(ME, "7"))

    while not isinstance(standby.claim(record(ME, "7")), Replace):
        clock.now += 0.1

    assert clock.now >= renewal_sent + TIMINGS.lease_duration
    assert old.leading_until() == renewal_sent + TIMINGS.renew_deadline
    assert not old.is_leading()


def test_a_released_lease_keeps_its_record_but_no_holder_and_names_who_released_it() -> None:
    lease = released(record(ME, "7"))

    assert (lease.holder, lease.duration_seconds, lease.version) == ("", 1, "7")
    assert lease.released_by == ME


def test_taking_a_released_lease_clears_its_release_mark() -> None:
    clock = FrozenClock()
    me = elector(clock)
    me.claim(released(record(THEM, "7")))
    clock.now += 1

    claim = me.claim(released(record(THEM, "7")))

    assert isinstance(claim, Replace)
    assert claim.record.released_by == ""


def test_a_renewal_clears_a_release_mark_put_on_the_held_lease() -> None:
    """A mark on a Lease its holder still holds was not written by a release: left there, an
    emptying by hand would make the Lease look released."""
    clock = FrozenClock()
    me = leader(clock)
    clock.now += TIMINGS.retry_period

    claim = me.claim(replace(record(ME, "8"), released_by=ME))

    assert claim == Replace(record(ME, "8"), acquiring=False)


@pytest.mark.parametrize(
    ("lease", "renew", "retry"),
    [(10, 10, 2), (15, 10, 10), (15, 10, 0), (5, 10, 2)],
    ids=["renew deadline = lease", "retry = renew deadline", "no retry period", "lease < renew"],
)
def test_timings_that_would_let_two_replicas_lead_are_refused(
    lease: float, renew: float, retry: float
) -> None:
    with pytest.raises(ValueError, match="lease duration > renew deadline > retry period"):
        Timings(lease, renew, retry)
