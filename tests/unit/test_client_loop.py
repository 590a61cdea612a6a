"""A resource's loop on a virtual clock (looptime): when it reconciles, and that nothing ends it
but being cancelled or its resource being gone. Hours of loop time pass in milliseconds; no
verdict depends on the machine."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref

import pytest

from maskinporten_operator.reconcile.effects import ClientRef
from maskinporten_operator.reconcile.reconciler import Outcome
from maskinporten_operator.runtime.apply import ResourceGone
from maskinporten_operator.runtime.loop import keep_supplied
from maskinporten_operator.runtime.wakeups import Wakeup

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]

REF = ClientRef("team", "weather", "uid", 1)
REFRESH_EVERY = 300.0
BASE = 15.0


def now() -> float:
    return asyncio.get_running_loop().time()


class Resource:
    """Records when the loop reconciled; ``apply`` can be told to raise."""

    def __init__(self, refresh_every: float = REFRESH_EVERY) -> None:
        self.reconciled_at: list[float] = []
        self.refresh_every = refresh_every
        self.failing_applies = 0
        self.failing_reconciles = 0
        self.gone = False
        self.wakeup = Wakeup()

    async def reconcile(self, ref: ClientRef) -> Outcome:
        self.reconciled_at.append(now())
        if self.failing_reconciles:
            self.failing_reconciles -= 1
            raise RuntimeError("boom")
        return Outcome({}, now() + self.refresh_every, (), ready=True)

    async def apply(self, ref: ClientRef, outcome: Outcome) -> None:
        if self.gone:
            raise ResourceGone
        if self.failing_applies:
            self.failing_applies -= 1
            raise RuntimeError("boom")

    def start(self) -> asyncio.Task[None]:
        return asyncio.create_task(
            keep_supplied(
                lambda: REF,
                reconcile=self.reconcile,
                apply=self.apply,
                wakeup=self.wakeup,
                clock=now,
                retry_base_seconds=BASE,
            )
        )


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=1)


async def run_for(resource: Resource, seconds: float) -> None:
    task = resource.start()
    await asyncio.sleep(seconds)
    assert not task.done()
    await stop(task)


async def test_reconciles_at_once_and_then_at_each_planned_time() -> None:
    resource = Resource()
    start = now()

    await run_for(resource, 3600 - 1)

    assert [at - start for at in resource.reconciled_at] == [
        pytest.approx(REFRESH_EVERY * i) for i in range(12)
    ]


async def test_a_wake_up_reconciles_before_the_planned_time() -> None:
    resource = Resource()
    start = now()
    task = resource.start()
    await asyncio.sleep(10)

    resource.wakeup.set()
    await asyncio.sleep(1)

    assert [at - start for at in resource.reconciled_at] == [0, pytest.approx(10)]
    await stop(task)


async def test_an_exception_applying_the_outcome_does_not_end_the_loop() -> None:
    resource = Resource()
    resource.failing_applies = 3
    start = now()

    await run_for(resource, 3 * BASE + 1)

    assert [at - start for at in resource.reconciled_at] == [
        pytest.approx(BASE * i) for i in range(4)
    ]


async def test_an_exception_escaping_the_reconciliation_does_not_end_the_loop() -> None:
    resource = Resource()
    resource.failing_reconciles = 2
    start = now()

    await run_for(resource, 2 * BASE + 1)

    assert [at - start for at in resource.reconciled_at] == [
        pytest.approx(BASE * i) for i in range(3)
    ]


async def test_its_resource_gone_ends_the_loop_at_the_next_attempt() -> None:
    resource = Resource()
    task = resource.start()
    await asyncio.sleep(1)
    start = now()

    resource.gone = True
    await asyncio.wait_for(task, timeout=REFRESH_EVERY)

    assert now() - start == pytest.approx(REFRESH_EVERY - 1)


class Status(dict[str, object]):
    """A status the test can hold weakly (a plain dict cannot be)."""


async def test_a_sleeping_loop_holds_nothing_of_its_last_outcome() -> None:
    resource = Resource()
    written: list[weakref.ref[Status]] = []

    async def reconcile(ref: ClientRef) -> Outcome:
        status = Status(conditions=[])
        written.append(weakref.ref(status))
        return Outcome(status, now() + REFRESH_EVERY, (), ready=True)

    resource.reconcile = reconcile  # type: ignore[method-assign]
    task = resource.start()
    await asyncio.sleep(1)
    gc.collect()

    assert len(written) == 1
    assert written[0]() is None
    await stop(task)
