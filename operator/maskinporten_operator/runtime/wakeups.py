"""Waking a resource's loop before its next scheduled refresh.

:class:`WakeRegistry` holds one :class:`Wakeup` per resource; kopf's watch events and the
Secret watch (:mod:`maskinporten_operator.adapters.watched_secrets`) wake it.
"""

from __future__ import annotations

import asyncio
import contextlib

from maskinporten_operator.api import label_value


class Wakeup:
    """A flag its loop waits on. A future per wait rather than an ``asyncio.Event``: an Event
    keeps a deque of waiters (~0.7 KiB) for as long as its resource lives."""

    __slots__ = ("_waiter", "_woken")

    def __init__(self) -> None:
        self._woken = False
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._woken = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    @property
    def pending(self) -> bool:
        """Woken, and the loop has not waited since."""
        return self._woken

    async def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, returning early when woken (also when woken before the call).
        With ``asyncio.timeout``, not ``wait_for``: that would run the wait as a task of its
        own (with a copy of the context) for as long as the loop sleeps, one more per
        resource."""
        if not self._woken:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(seconds):
                        await self._waiter
            finally:
                self._waiter = None
        self._woken = False


class WakeRegistry:
    def __init__(self) -> None:
        self._wakeups: dict[tuple[str, str], Wakeup] = {}
        self._seen: dict[tuple[str, str], tuple[object, ...]] = {}
        self._names_by_label: dict[tuple[str, str], str] = {}
        """Names over 63 characters by their label value (users' Secrets carry only that)."""

    def wake_on_change(self, namespace: str, name: str, *facts: object) -> None:
        """Wake the resource when ``facts`` differ from the last ones seen for it.

        Waking on a change rather than on a mismatch with the status keeps a request that keeps
        failing (a forced refresh, say) on its back-off instead of retrying on every update.
        Facts of a resource with no registered loop (not started yet, or deleted) are not
        kept: its loop reconciles at once when it starts, and the registry holds only live
        resources.
        """
        key = (namespace, name)
        if key in self._wakeups and self._seen.get(key) != facts:
            self._seen[key] = facts
            self._wakeups[key].set()

    def register(self, namespace: str, name: str, *facts: object) -> Wakeup:
        """A loop starts: ``facts`` are what it reconciles with first (see wake_on_change)."""
        wakeup = Wakeup()
        self._wakeups[(namespace, name)] = wakeup
        self._seen[(namespace, name)] = facts
        if label_value(name) != name:
            self._names_by_label[(namespace, label_value(name))] = name
        return wakeup

    def unregister(self, namespace: str, name: str, wakeup: Wakeup) -> None:
        if self._wakeups.get((namespace, name)) is wakeup:
            del self._wakeups[(namespace, name)]
            self._seen.pop((namespace, name), None)
            self._names_by_label.pop((namespace, label_value(name)), None)

    def __len__(self) -> int:
        """How many resources the registry holds state for."""
        aliased = {(namespace, name) for (namespace, _), name in self._names_by_label.items()}
        return len(self._wakeups.keys() | self._seen.keys() | aliased)

    def wake(self, namespace: str, name: str) -> None:
        """Wake the resource ``name`` (or the one whose :func:`label_value` it is)."""
        name = self._names_by_label.get((namespace, name), name)
        wakeup = self._wakeups.get((namespace, name))
        if wakeup is not None:
            wakeup.set()
