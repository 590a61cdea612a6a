"""Waking a resource's loop before its next scheduled refresh.

:class:`WakeRegistry` holds one :class:`Wakeup` per resource; kopf's watch events and the
Secret watch (:mod:`maskinporten_operator.adapters.watched_secrets`) wake it.
"""

from __future__ import annotations

import asyncio
import contextlib

from maskinporten_operator.api import label_value


class Wakeup:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    @property
    def pending(self) -> bool:
        """Woken, and the loop has not waited since."""
        return self._event.is_set()

    async def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, returning early when woken."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        self._event.clear()


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
