"""The supervisor: one loop per live resource, started and stopped from the watch's events,
and the gate leader election drives. Loops are plain coroutines; time is virtual (looptime)."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import weakref
from collections.abc import Callable
from typing import Any

import pytest

from maskinporten_operator.reconcile.schedule import RetryPolicy
from maskinporten_operator.runtime.supervisor import Supervisor, Watched

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]

STOP_SECONDS = 10.0
RESTART = RetryPolicy(base_seconds=15.0, max_seconds=60.0)
caller: contextvars.ContextVar[str] = contextvars.ContextVar("caller")
event: contextvars.ContextVar[object] = contextvars.ContextVar("event")


def body(name: str, uid: str = "", **meta: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "team", "name": name, "uid": uid or f"uid-{name}", **meta}}


class Loops:
    """Loops that run until cancelled, or return (their resource gone), or raise, on request
    (or at once: ``fail_at_start``); each records the bodies it read, the context it ran in and
    the (virtual) time it started, and ``overlaps`` counts loops started while another of the
    same resource ran."""

    def __init__(self) -> None:
        self.running: dict[str, Watched] = {}
        self.started: list[str] = []
        self.callers: list[str | None] = []
        self.endings: dict[str, asyncio.Future[None]] = {}
        self.start_times: list[float] = []
        self.ignore_cancellation = False
        self.fail_at_start = False
        self.overlaps = 0

    async def run(self, watched: Watched) -> None:
        uid = watched.body["metadata"]["uid"]
        self.overlaps += uid in self.running
        self.started.append(uid)
        self.start_times.append(asyncio.get_running_loop().time())
        if self.fail_at_start:
            raise RuntimeError("boom")
        self.callers.append(caller.get(None))
        self.running[uid] = watched
        self.endings[uid] = asyncio.get_running_loop().create_future()
        try:
            await self._until_ended(uid)
        finally:
            del self.running[uid]

    async def _until_ended(self, uid: str) -> None:
        while True:
            try:
                return await self.endings[uid]
            except asyncio.CancelledError:
                if not self.ignore_cancellation:
                    raise
                self.endings[uid] = asyncio.get_running_loop().create_future()


async def until(condition: Callable[[], bool]) -> None:
    """Let the loops run until ``condition`` holds (a bounded number of turns)."""
    for _ in range(100):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the state was not reached")


async def start_times(loops: Loops, count: int) -> list[float]:
    """The times the first ``count`` loops started, from the first, once they have: virtual
    time runs on (a second at a time, up to 1,000) while fewer have."""
    for _ in range(1000):
        if len(loops.start_times) >= count:
            first = loops.start_times[0]
            return [at - first for at in loops.start_times[:count]]
        await asyncio.sleep(1.0)
    raise AssertionError(f"only {len(loops.start_times)} loops started")


def uids(loops: Loops) -> set[str]:
    return set(loops.running)


async def test_the_listing_starts_one_loop_per_resource() -> None:
    loops = Loops()
    supervisor = Supervisor(loops.run)

    for name in ("billing", "weather"):
        supervisor.observe(None, body(name))
    supervisor.observe("MODIFIED", body("billing", generation=2))

    await until(lambda: uids(loops) == {"uid-billing", "uid-weather"})
    assert loops.started == ["uid-billing", "uid-weather"]


async def test_a_loop_reads_the_body_of_the_latest_event() -> None:
    loops = Loops()
    supervisor = Supervisor(loops.run)
    supervisor.observe("ADDED", body("billing", generation=1))
    await until(lambda: uids(loops) == {"uid-billing"})

    supervisor.observe("MODIFIED", body("billing", generation=2))

    assert loops.running["uid-billing"].body["metadata"]["generation"] == 2


async def test_a_deleted_resource_loses_its_loop() -> None:
    loops = Loops()
    supervisor = Supervisor(loops.run)
    supervisor.observe("ADDED", body("billing"))
    await until(lambda: uids(loops) == {"uid-billing"})

    supervisor.observe("DELETED", body("billing"))

    await until(lambda: not loops.running)
    assert supervisor.known == 0


async def test_a_resource_marked_for_deletion_loses_its_loop() -> None:
    loops = Loops()
    supervisor = Supervisor(loops.run)
    supervisor.observe("ADDED", body("billing"))
    await until(lambda: uids(loops) == {"uid-billing"})

    supervisor.observe("MODIFIED", body("billing", deletionTimestamp="2026-12-05T12:00:00Z"))

    await until(lambda: not loops.running)
    supervisor.start_all()
    await until(lambda: supervisor.running == 0)
    assert not loops.running


async def test_a_resource_recreated_under_the_same_name_gets_a_new_loop() -> None:
    loops = Loops()
    supervisor = Supervisor(loops.run)
    supervisor.observe("ADDED", body("billing", uid="first"))
    await until(lambda: uids(loops) == {"first"})

    supervisor.observe(None, body("billing", uid="second"))

    await until(lambda: uids(loops) == {"second"})


async def test_a_loop_that_returns_has_its_resource_forgotten() -> None:
    """The loop returns when its resource is gone (deleted during a watch gap)."""
    loops = Loops()
    supervisor = Supervisor(loops.run)
    supervisor.observe("ADDED", body("billing"))
    await until(lambda: uids(loops) == {"uid-billing"})

    loops.endings["uid-billing"].set_result(None)
    await until(lambda: supervisor.known == 0)
    supervisor.start_all()

    assert supervisor.running == 0
    assert loops.started == ["uid-billing"]


async def test_a_loop_that_raised_starts_again_after_the_base_delay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loops = Loops()
    supervisor = Supervisor(loops.run, restart=RESTART)
    supervisor.observe("ADDED", body("billing"))
    await until(lambda: uids(loops) == {"uid-billing"})

    loops.endings["uid-billing"].set_exception(RuntimeError("the secret is hunter2"))

    assert await start_times(loops, 2) == [0.0, RESTART.base_seconds]
    assert supervisor.known == 1
    [record] = [r for r in caplog.records if "ended unasked" in r.getMessage()]
    assert "an unexpected RuntimeError" in record.getMessage()
    assert "hunter2" not in record.getMessage()


async def test_a_loop_ended_by_a_cancellation_it_did_not_ask_for_starts_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The CancelledError of a future the loop awaited (a request dropped under it) is not the
    loop's own cancellation."""
    loops = Loops()
    supervisor = Supervisor(loops.run, restart=RESTART)
    supervisor.observe("ADDED", body("billing"))
    await until(lambda: uids(loops) == {"uid-billing"})

    loops.endings["uid-billing"].cancel()

    assert await start_times(loops, 2) == [0.0, RESTART.base_seconds]
    assert any("not its own cancellation" in r.getMessage() for r in caplog.records)


async def test_a_loop_ending_unasked_again_and_again_starts_again_after_doubling_delays() -> None:
    loops = Loops()
    loops.fail_at_start = True
    supervisor = Supervisor(loops.run, restart=RESTART)

    supervisor.observe("ADDED", body("billing"))

    assert await start_times(loops, 5) == [0.0, 15.0, 45.0, 105.0, 165.0]


async def test_a_loop_that_ran_for_the_longest_delay_starts_again_after_the_base_delay() -> None:
    loops = Loops()
    supervisor = Supervisor(loops.run, restart=RESTART)
    supervisor.observe("ADDED", body("billing"))
    await until(lambda: uids(loops) == {"uid-billing"})
    loops.endings["uid-billing"].set_exception(RuntimeError("boom"))
    await start_times(loops, 2)
    await asyncio.sleep(RESTART.max_seconds)
    ended_at = asyncio.get_running_loop().time()

    loops.endings["uid-billing"].set_exception(RuntimeError("boom"))

    await start_times(loops, 3)
    assert loops.start_times[2] - ended_at == RESTART.base_seconds


async def test_a_loop_waiting_to_start_again_stays_stopped_when_leading_ends() -> None:
    loops = Loops()
    supervisor = Supervisor(loops.run, restart=RESTART)
    supervisor.observe("ADDED", body("billing"))
    await until(lambda: uids(loops) == {"uid-billing"})
    loops.endings["uid-billing"].set_exception(RuntimeError("boom"))
    await until(lambda: not loops.running)

    assert await supervisor.stop_all(STOP_SECONDS)

    await asyncio.sleep(RESTART.max_seconds)
    assert loops.started == ["uid-billing"]


async def test_events_while_not_leading_start_no_loop() -> None:
    loops = Loops()
    supervisor = Supervisor(loops.run, leading=False)

    supervisor.observe(None, body("billing"))
    supervisor.observe("ADDED", body("weather"))
    await asyncio.sleep(0)

    assert supervisor.running == 0
    assert supervisor.known == 2
    assert not loops.started


async def test_leading_starts_a_loop_for_every_live_resource_with_its_latest_body() -> None:
    loops = Loops()
    supervisor = Supervisor(loops.run, leading=False)
    supervisor.observe(None, body("billing", generation=1))
    supervisor.observe("MODIFIED", body("billing", generation=2))
    supervisor.observe("ADDED", body("weather"))
    supervisor.observe("DELETED", body("weather"))

    supervisor.start_all()

    await until(lambda: uids(loops) == {"uid-billing"})
    assert loops.running["uid-billing"].body["metadata"]["generation"] == 2


async def test_loops_started_on_leading_run_in_the_context_of_the_last_event() -> None:
    """kopf's Event poster finds its queue in the context of kopf's event handlers."""
    loops = Loops()
    supervisor = Supervisor(loops.run, leading=False)
    caller.set("the watch")
    supervisor.observe("ADDED", body("billing"))
    caller.set("the elector")

    supervisor.start_all()

    await until(lambda: uids(loops) == {"uid-billing"})
    assert loops.callers == ["the watch"]


async def test_loops_run_in_the_context_of_the_first_event_not_of_their_own() -> None:
    """An event's context holds kopf's cause of that event, with its body: a loop would keep
    it for as long as it runs."""
    loops = Loops()
    supervisor = Supervisor(loops.run)
    for name in ("billing", "weather"):
        caller.set(f"the event of {name}")
        supervisor.observe("ADDED", body(name))

    await until(lambda: uids(loops) == {"uid-billing", "uid-weather"})
    assert loops.callers == ["the event of billing", "the event of billing"]


class Cause:
    """What kopf keeps in an event's context (the cause, with the event's body)."""


async def test_a_loop_keeps_nothing_of_the_event_that_started_it() -> None:
    loops = Loops()
    supervisor = Supervisor(loops.run)
    supervisor.observe("ADDED", body("weather"))  # the first event: its context is kept

    def second_event() -> weakref.ref[Cause]:
        cause = Cause()
        event.set(cause)
        supervisor.observe("ADDED", body("billing"))
        return weakref.ref(cause)

    cause = contextvars.copy_context().run(second_event)
    await until(lambda: "uid-billing" in uids(loops))
    gc.collect()

    assert cause() is None


async def test_stopping_all_ends_every_loop_before_it_returns() -> None:
    loops = Loops()
    supervisor = Supervisor(loops.run)
    for name in ("billing", "weather"):
        supervisor.observe(None, body(name))
    await until(lambda: len(loops.running) == 2)

    stopped = await supervisor.stop_all(STOP_SECONDS)

    assert stopped
    assert not loops.running
    assert supervisor.running == 0


async def test_events_after_stopping_all_start_no_loop() -> None:
    loops = Loops()
    supervisor = Supervisor(loops.run)
    supervisor.observe(None, body("billing"))
    await until(lambda: len(loops.running) == 1)
    await supervisor.stop_all(STOP_SECONDS)

    supervisor.observe("MODIFIED", body("billing"))
    supervisor.observe("ADDED", body("weather"))
    await asyncio.sleep(0)

    assert not loops.running
    assert not supervisor.leading


async def test_leading_again_after_stopping_all_restarts_every_loop() -> None:
    loops = Loops()
    supervisor = Supervisor(loops.run)
    supervisor.observe(None, body("billing"))
    await until(lambda: len(loops.running) == 1)
    await supervisor.stop_all(STOP_SECONDS)

    supervisor.start_all()

    await until(lambda: uids(loops) == {"uid-billing"})


async def test_stopping_all_gives_up_on_a_loop_that_does_not_end_in_time() -> None:
    loops = Loops()
    loops.ignore_cancellation = True
    supervisor = Supervisor(loops.run)
    supervisor.observe(None, body("billing"))
    await until(lambda: len(loops.running) == 1)
    start = asyncio.get_running_loop().time()

    stopped = await supervisor.stop_all(STOP_SECONDS)

    assert not stopped
    assert asyncio.get_running_loop().time() - start == pytest.approx(STOP_SECONDS)
    loops.ignore_cancellation = False
    supervisor.observe("DELETED", body("billing"))
    await until(lambda: not loops.running)


async def test_stopping_all_waits_for_the_requests_sent_to_settle_in_the_time_left() -> None:
    settle_budgets: list[float] = []

    async def settle(seconds: float) -> int:
        settle_budgets.append(seconds)
        return 1

    supervisor = Supervisor(Loops().run, settle=settle)

    stopped = await supervisor.stop_all(STOP_SECONDS)

    assert not stopped
    assert settle_budgets == [pytest.approx(STOP_SECONDS)]


async def test_leading_again_while_a_loop_still_stops_starts_it_once_the_old_one_ended() -> None:
    loops = Loops()
    loops.ignore_cancellation = True
    supervisor = Supervisor(loops.run)
    supervisor.observe(None, body("billing"))
    await until(lambda: len(loops.running) == 1)
    assert not await supervisor.stop_all(STOP_SECONDS)

    supervisor.start_all()
    await asyncio.sleep(STOP_SECONDS)
    assert loops.started == ["uid-billing"]
    loops.endings["uid-billing"].set_result(None)

    await until(lambda: loops.started == ["uid-billing", "uid-billing"])
    assert uids(loops) == {"uid-billing"}
    assert loops.overlaps == 0
    assert supervisor.known == 1
    loops.ignore_cancellation = False
    await supervisor.stop_all(STOP_SECONDS)


async def test_a_resource_recreated_while_its_old_loop_still_stops_gets_one_loop_after_it() -> None:
    loops = Loops()
    loops.ignore_cancellation = True
    supervisor = Supervisor(loops.run)
    supervisor.observe("ADDED", body("billing", uid="first"))
    await until(lambda: uids(loops) == {"first"})

    supervisor.observe("DELETED", body("billing", uid="first"))
    supervisor.observe("ADDED", body("billing", uid="second"))
    await asyncio.sleep(STOP_SECONDS)
    assert loops.started == ["first"]
    loops.endings["first"].set_result(None)

    await until(lambda: uids(loops) == {"second"})
    assert loops.overlaps == 0
    loops.ignore_cancellation = False
    await supervisor.stop_all(STOP_SECONDS)
