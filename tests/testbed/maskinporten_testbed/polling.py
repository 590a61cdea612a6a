"""Waiting for a state: poll a probe until it yields something, or fail naming what was awaited.

The one way tests, the demo and the benchmarks wait. A wait succeeds on a state only the code
under test can produce; its timeout only bounds how long a failure takes to show, so it is
generous (a busy machine makes waits longer, never verdicts different).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
TIMEOUT = 30.0
INTERVAL = 0.2


class _Deadline:
    def __init__(self, what: str, timeout: float) -> None:
        self._what = what
        self._timeout = timeout
        self._at = time.monotonic() + timeout

    def check(self) -> None:
        if time.monotonic() > self._at:
            raise TimeoutError(f"timed out after {self._timeout:.0f} s waiting for {self._what}")


def eventually(
    probe: Callable[[], T | None],
    *,
    what: str,
    timeout: float = TIMEOUT,
    interval: float = INTERVAL,
) -> T:
    """The first truthy result of ``probe``, called every ``interval`` seconds.

    Raises :class:`TimeoutError` naming ``what`` after ``timeout`` seconds; an exception from
    ``probe`` ends the wait at once (a probe raises when the awaited state can no longer come).
    """
    deadline = _Deadline(what, timeout)
    while not (value := probe()):
        deadline.check()
        time.sleep(interval)
    return value


async def eventually_async(
    probe: Callable[[], T | None], *, what: str, interval: float = INTERVAL
) -> T:
    """:func:`eventually` for a test whose code under test runs on the test's own event loop:
    the loop runs between calls of ``probe``."""
    deadline = _Deadline(what, TIMEOUT)
    while not (value := probe()):
        deadline.check()
        await asyncio.sleep(interval)
    return value
