"""Leader election over a ``coordination.k8s.io/v1`` Lease: the decisions, without I/O.

The rules are client-go's ``leaderelection`` (which controller-runtime uses), tightened where
a hand-edited or deleted Lease could let two replicas lead at once:

- A replica measures every duration on its own monotonic clock. It never compares the Lease's
  ``renewTime`` (another machine's wall clock) with its own: a standby takes the Lease only when
  the record it observes, or the absence of one, has not changed for the record's lease
  duration (for an absent Lease: ours) as timed by itself since it first saw it.
- The leader renews every retry period and leads until ``renew deadline`` after it *sent* its
  last successful renewal. The Lease changed no earlier than that, so no standby can see it
  unchanged for a lease duration before ``sent + lease duration``: with renew deadline < lease
  duration, the old leader has stopped before anyone else can take over (fencing), by a margin
  of ``lease duration - renew deadline`` (:attr:`Timings.write_margin`).
- A leader that observes the Lease held by another replica stops at once. A Lease deleted by
  hand is recreated by the leader at once; standbys treat its absence as a record like any
  other. A Lease a leader released on a graceful stop (holder empty, duration 1 s, and the
  release mark :attr:`LeaseRecord.released_by`, which only the operator writes) is taken after
  that second. A Lease emptied by hand carries no mark: its holder may still act until its next
  attempt, so it is waited out like any held Lease.

Writes use optimistic concurrency (the record's ``resourceVersion``): a conflict means another
replica (or a person) changed the Lease first; the next attempt reads what they wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

RELEASED_DURATION_SECONDS = 1
"""The lease duration a released Lease carries (client-go's ReleaseOnCancel does the same)."""


@dataclass(frozen=True)
class Timings:
    """Seconds. ``lease_duration > renew_deadline > retry_period > 0``; ValueError otherwise."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > self.retry_period > 0:
            raise ValueError(
                "leader election needs lease duration > renew deadline > retry period > 0, got "
                f"{self.lease_duration}, {self.renew_deadline} and {self.retry_period} seconds"
            )

    @property
    def write_margin(self) -> float:
        """How long a write started while leading may still take before another replica can
        lead: the timeout for every request the leader makes."""
        return self.lease_duration - self.renew_deadline


@dataclass(frozen=True)
class LeaseRecord:
    """A Lease's spec as far as the election goes, and its ``resourceVersion``.

    ``acquired`` and ``renewed`` are wall-clock times (RFC 3339) for people reading the Lease;
    no decision reads them.
    """

    holder: str
    """``holderIdentity``; empty when released."""
    duration_seconds: int
    transitions: int
    version: str = ""
    acquired: str | None = None
    renewed: str | None = None
    released_by: str = ""
    """Who released the Lease on a graceful stop: the mark :func:`released` sets and every
    other claim clears; empty on a Lease held, emptied by hand, or never released."""


@dataclass(frozen=True)
class Observation:
    """What a replica last read (None: no Lease) and since when (its monotonic clock)."""

    record: LeaseRecord | None
    since: float


def observe(previous: Observation | None, record: LeaseRecord | None, now: float) -> Observation:
    """``previous`` while the Lease is unchanged (same ``resourceVersion``, or still absent),
    else the new record seen at ``now``."""
    if previous is not None and _version(previous.record) == _version(record):
        return previous
    return Observation(record, now)


def _version(record: LeaseRecord | None) -> str | None:
    return None if record is None else record.version


@dataclass(frozen=True)
class Create:
    record: LeaseRecord


@dataclass(frozen=True)
class Replace:
    """Write ``record`` over the version observed (renewal when ``acquiring`` is False)."""

    record: LeaseRecord
    acquiring: bool


@dataclass(frozen=True)
class Wait:
    """Another replica holds the Lease (or may): try again later, no earlier than ``until``
    (monotonic) can it be taken."""

    until: float


Claim = Create | Replace | Wait


def next_claim(
    identity: str, observation: Observation, *, leading: bool, now: float, timings: Timings
) -> Claim:
    """What ``identity`` does about the Lease it observes at monotonic time ``now``."""
    record = observation.record
    if record is None:
        expires = observation.since + timings.lease_duration
        if leading or now >= expires:
            return Create(LeaseRecord(identity, _seconds(timings.lease_duration), 0))
        return Wait(expires)
    if record.holder == identity:
        renewal = replace(record, duration_seconds=_seconds(timings.lease_duration), released_by="")
        return Replace(renewal, False)
    expires = observation.since + _wait_seconds(record, timings)
    if now < expires:
        return Wait(expires)
    taken = LeaseRecord(
        identity, _seconds(timings.lease_duration), record.transitions + 1, record.version
    )
    return Replace(taken, True)


def _wait_seconds(record: LeaseRecord, timings: Timings) -> float:
    """How long a held Lease must stay unchanged before it may be taken: its holder's duration,
    never less than ours (a duration shortened by hand, or missing, must not let a standby act
    while the holder still may); a Lease released by its leader only its own second (one
    emptied by hand is not known to be left by its holder)."""
    if record.holder == "" and record.released_by:
        return record.duration_seconds
    return max(record.duration_seconds, timings.lease_duration)


def _seconds(duration: float) -> int:
    """``leaseDurationSeconds`` is an integer: rounded up, never shorter than ours."""
    return max(int(-(-duration // 1)), 1)


def held_by_another(identity: str, observation: Observation) -> bool:
    record = observation.record
    return record is not None and record.holder not in ("", identity)


def released(record: LeaseRecord) -> LeaseRecord:
    """The Lease as a leader leaves it on a graceful stop: no holder, a 1 s duration, and the
    release mark naming the holder that left it."""
    return replace(
        record, holder="", duration_seconds=RELEASED_DURATION_SECONDS, released_by=record.holder
    )


@dataclass
class Elector:
    """One replica's view of the election: what it observed, and when it last renewed.

    ``clock`` is monotonic (seconds); wall-clock jumps move none of these times.
    """

    identity: str
    timings: Timings
    clock: Callable[[], float]
    observation: Observation | None = None
    renewed_at: float | None = None
    """When the last successful claim was sent; None when not leading."""
    held: LeaseRecord | None = None
    """The record as this replica last wrote it, while it may lead."""

    def leading_until(self) -> float | None:
        if self.renewed_at is None:
            return None
        return self.renewed_at + self.timings.renew_deadline

    def is_leading(self) -> bool:
        until = self.leading_until()
        return until is not None and self.clock() < until

    def claim(self, record: LeaseRecord | None) -> Claim:
        """Observe ``record`` (just read) and say what to write; seeing the Lease held by
        another ends this replica's leadership at once."""
        now = self.clock()
        self.observation = observe(self.observation, record, now)
        if held_by_another(self.identity, self.observation):
            self.step_down()
        return next_claim(
            self.identity,
            self.observation,
            leading=self.is_leading(),
            now=now,
            timings=self.timings,
        )

    def claimed(self, record: LeaseRecord, sent_at: float) -> None:
        """The write sent at ``sent_at`` (monotonic) succeeded and returned ``record``."""
        self.observation = Observation(record, sent_at)
        self.renewed_at = sent_at
        self.held = record

    def write_failed(self) -> None:
        """A claim's write failed or was not answered: the Lease may have changed unseen (a
        create that found it existing: another replica created it meanwhile), so what was
        observed is forgotten and the next sighting starts a full wait. Without this, a standby
        that saw no Lease, lost the race to create it and then saw it deleted would count its
        absence from the first sighting and take it at once."""
        self.observation = None

    def step_down(self) -> None:
        self.renewed_at = None
        self.held = None
