"""Leader election, run: keep trying for the Lease, and say when leadership starts and ends.

:class:`LeaderElection` drives an :class:`~maskinporten_operator.election.Elector` (the
decisions) against the Lease (:class:`LeaseApi`): every retry period it reads the Lease and
creates, takes or renews it as the elector says. ``on_started_leading()`` is called when a
claim succeeds while not leading; ``await on_stopped_leading()`` as soon as the renew deadline
passes without a successful renewal, or the Lease is seen held by another replica, and on
stop. Every attempt is bounded by the time left until the deadline, so a hanging API server
never keeps a replica leading past it. :meth:`stop` (graceful shutdown) stops leading first,
then releases the Lease so that a standby takes it about a retry period later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import kubernetes

from maskinporten_operator.adapters.kube import Kube
from maskinporten_operator.adapters.leases import Leases, lease_namespace, replica_identity
from maskinporten_operator.election import Create, Elector, LeaseRecord, Replace, Wait, released
from maskinporten_operator.ports import KubeError
from maskinporten_operator.settings import Settings

logger = logging.getLogger(__name__)


class LeaseApi(Protocol):
    subject: str

    async def aclose(self) -> None: ...

    async def read(self) -> LeaseRecord | None: ...

    async def create(self, record: LeaseRecord) -> LeaseRecord: ...

    async def replace(self, record: LeaseRecord) -> LeaseRecord: ...


class LeaderElection:
    """:meth:`start` it on the event loop; :meth:`stop` ends it (and leadership) and releases."""

    def __init__(
        self,
        elector: Elector,
        leases: LeaseApi,
        *,
        on_started_leading: Callable[[], None],
        on_stopped_leading: Callable[[], Awaitable[object]],
        report_leading: Callable[[bool], None],
    ) -> None:
        self.elector = elector
        self._leases = leases
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._report = report_leading
        self._leading = False
        self._task: asyncio.Task[None] | None = None
        self._stopping_loops: asyncio.Future[object] | None = None
        self._takeable_at: float | None = None
        """When the Lease another replica holds (or held) may be taken, if within reach."""

    def start(self) -> None:
        self._report(False)
        logger.info("leader election as %s on %s", self.elector.identity, self._leases.subject)
        self._task = asyncio.create_task(self._run(), name="leader election")

    async def _run(self) -> None:
        """Until cancelled; no exception ends it (an API failure is one missed attempt)."""
        while True:
            await self._attempt_within_deadline()
            await self._follow_leadership()
            await asyncio.sleep(self._until_next_attempt())

    async def stop(self) -> None:
        """Stop trying, stop leading (``on_stopped_leading`` returns first), then release the
        Lease if this replica holds it."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._stop_leading("the operator is stopping")
        held = self.elector.held
        self.elector.step_down()
        if held is not None:
            await self._release(held)
        await self._leases.aclose()

    async def _release(self, held: LeaseRecord) -> None:
        try:
            await self._leases.replace(released(held))
        except KubeError as error:
            logger.warning("could not release the Lease (%s); a standby waits it out", error)
        else:
            logger.info("released %s", self._leases.subject)

    def _leading_for(self) -> float | None:
        """Seconds left until the renew deadline; None when not leading."""
        until = self.elector.leading_until()
        now = self.elector.clock()
        return None if until is None or until <= now else until - now

    def _until_next_attempt(self) -> float:
        """A retry period, or less when the renew deadline, or the moment the Lease may be
        taken (a released one: a second after it was seen), comes first."""
        period = self.elector.timings.retry_period
        left = self._leading_for()
        if left is not None:
            return min(period, left)
        if self._takeable_at is not None:
            return min(period, max(self._takeable_at - self.elector.clock(), 0.0))
        return period

    async def _attempt_within_deadline(self) -> None:
        left = self._leading_for()
        limit = self.elector.timings.renew_deadline if left is None else left
        try:
            await asyncio.wait_for(self._attempt(), limit)
        except TimeoutError:
            logger.warning("no answer about %s in %.1f s", self._leases.subject, limit)
        except KubeError as error:
            log = logger.info if error.status == 409 else logger.warning
            log("leader election: %s", error)
        except Exception:  # the last resort: no exception ends the election
            logger.exception("leader election: unexpected error, retried")

    async def _attempt(self) -> None:
        claim = self.elector.claim(await self._leases.read())
        self._takeable_at = claim.until if isinstance(claim, Wait) else None
        if isinstance(claim, Wait):
            return
        sent_at = self.elector.clock()
        try:
            if isinstance(claim, Create):
                written = await self._leases.create(claim.record)
            else:
                written = await self._leases.replace(claim.record)
        except BaseException:
            self.elector.write_failed()
            raise
        self.elector.claimed(written, sent_at)
        if isinstance(claim, Replace) and claim.acquiring:
            logger.info("took over %s (transition %d)", self._leases.subject, written.transitions)

    async def _follow_leadership(self) -> None:
        leading = self.elector.is_leading()
        if leading and not self._leading:
            self._leading = True
            self._report(True)
            logger.info("started leading as %s", self.elector.identity)
            self._on_started()
        elif not leading:
            await self._stop_leading(self._why_not_leading())

    def _why_not_leading(self) -> str:
        observation = self.elector.observation
        record = None if observation is None else observation.record
        if record is not None and record.holder not in ("", self.elector.identity):
            return f"the Lease is held by {record.holder}"
        return "no renewal within the renew deadline"

    async def _stop_leading(self, why: str) -> None:
        """Once per term: ``on_stopped_leading`` runs to its end even when :meth:`stop`
        cancels the election meanwhile (it awaits the same call)."""
        if self._leading:
            self._leading = False
            self._report(False)
            logger.warning("stopped leading: %s", why)
            self._stopping_loops = asyncio.ensure_future(self._on_stopped())
        if self._stopping_loops is not None:
            await asyncio.shield(self._stopping_loops)


def lease_election(
    settings: Settings,
    configuration: kubernetes.client.Configuration,
    *,
    on_started_leading: Callable[[], None],
    on_stopped_leading: Callable[[], Awaitable[object]],
    report_leading: Callable[[bool], None],
) -> LeaderElection:
    """The election the settings describe, over a connection of its own (``configuration``),
    as :func:`~maskinporten_operator.adapters.leases.replica_identity`, on the monotonic clock.
    """
    timings = settings.election_timings
    leases = Leases(
        Kube(configuration, concurrency=2),
        lease_namespace(settings.leader_election_namespace),
        settings.leader_election_lease_name,
        timeout_seconds=timings.write_margin,
    )
    return LeaderElection(
        Elector(replica_identity(), timings, time.monotonic),
        leases,
        on_started_leading=on_started_leading,
        on_stopped_leading=on_stopped_leading,
        report_leading=report_leading,
    )
