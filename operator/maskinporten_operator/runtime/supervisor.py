"""One asyncio task per MaskinportenClient, started and stopped from the watch.

kopf's watch hands every event to :meth:`Supervisor.observe` (the initial listing after a start
too, which is how loops resume after a restart); the supervisor keeps the latest body of every
live resource and, while it leads, one loop per resource. No kopf here: the loop is passed in,
so the supervisor is tested with plain coroutines.

A resource deleted while the watch was down (a watch gap) sends no DELETED event, and kopf's
re-listing gives no end-of-list marker to compare against. Its loop is reaped by the loop
itself: every scheduled attempt writes the resource's status (``nextRefreshTime`` moves on each
refresh and on each failure), and a status write answered 404 ends the loop (see
:class:`~maskinporten_operator.runtime.apply.ResourceGone`); a loop that returns is the
resource gone, so the supervisor forgets it. That costs no request at all, where comparing with
a periodic list would cost a list of every resource per period and replica; the price is that
a vanished resource's loop lives until its next attempt (one refresh period at most).

Cancelling a loop ends its task at once, but not a Kubernetes API request already running on a
thread (:mod:`maskinporten_operator.adapters.kube`): that request still reaches the API server.
:meth:`Supervisor.stop_all` therefore also waits (bounded) for those requests to settle.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

logger = logging.getLogger(__name__)

Key = tuple[str, str]
"""A resource's namespace and name."""

DELETED = "DELETED"


class Watched:
    """A live resource as the watch last saw it: ``body`` is replaced on every event, so a loop
    reads it anew whenever it wants the latest."""

    __slots__ = ("body", "task")

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.task: asyncio.Task[None] | None = None


RunLoop = Callable[[Watched], Coroutine[Any, Any, None]]
"""A resource's loop: runs until cancelled, or returns when the resource is gone."""
Settle = Callable[[float], Awaitable[int]]
"""Waits at most the given seconds for requests already sent to end; how many had not."""


def key_of(body: Mapping[str, Any]) -> Key:
    meta = body["metadata"]
    return (meta.get("namespace") or "", meta["name"])


def _uid(body: Mapping[str, Any]) -> str:
    return str(body["metadata"].get("uid", ""))


class Supervisor:
    """The resources known from the watch and the loops running for them.

    While :attr:`leading`, every live resource has a loop; otherwise events only keep the watch
    state, so that :meth:`start_all` (leadership acquired) starts every loop without reading
    anything. :meth:`stop_all` (leadership lost, shutdown) closes that gate again.
    """

    def __init__(self, run_loop: RunLoop, *, leading: bool = True, settle: Settle | None = None):
        self._run_loop = run_loop
        self._settle = settle
        self._leading = leading
        self._resources: dict[Key, Watched] = {}
        self._context: contextvars.Context | None = None

    @property
    def leading(self) -> bool:
        return self._leading

    @property
    def known(self) -> int:
        """How many live resources the watch has shown."""
        return len(self._resources)

    @property
    def running(self) -> int:
        """How many loops run."""
        return sum(1 for watched in self._resources.values() if watched.task is not None)

    def observe(self, event_type: str | None, body: dict[str, Any]) -> None:
        """One watch event (``event_type`` None for the listing); returns at once.

        A resource deleted, or marked for deletion (a finalizer holds it: deleting a managed
        client at Digdir is kopf's ``on.delete`` handler's job), loses its loop; one recreated
        under the same name (another uid) gets a new one. Loops run in a copy of the context of
        the first event observed (kopf's Event poster finds its queue there), and so does the
        callback of their end; not of the event that started them: an event's context holds
        that event (kopf's cause, with the body), which a loop would keep for as long as it
        runs, one body per resource.
        """
        if self._context is None:
            self._context = contextvars.copy_context()
        key = key_of(body)
        watched = self._resources.get(key)
        if event_type == DELETED or body["metadata"].get("deletionTimestamp"):
            if watched is not None:
                del self._resources[key]
                _cancel(watched)
            return
        if watched is None or _uid(watched.body) != _uid(body):
            if watched is not None:
                _cancel(watched)
            watched = self._resources[key] = Watched(body)
        watched.body = body
        if self._leading:
            self._start(key, watched)

    def start_all(self) -> None:
        """Lead: start a loop for every live resource known that has none."""
        self._leading = True
        for key, watched in self._resources.items():
            self._start(key, watched)

    async def stop_all(self, seconds: float) -> bool:
        """Stop leading: cancel every loop and wait, at most ``seconds``, until all have
        ended and the Kubernetes requests they had sent have settled. False when some had not
        by then (logged). Events meanwhile start no loop; the watch state is kept."""
        self._leading = False
        tasks = [watched.task for watched in self._resources.values() if watched.task]
        for task in tasks:
            task.cancel()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        unended = len((await asyncio.wait(tasks, timeout=seconds))[1]) if tasks else 0
        unsettled = await self._settle(max(deadline - loop.time(), 0.0)) if self._settle else 0
        if unended or unsettled:
            logger.warning(
                "after %.0f s, %d loops had not ended and %d Kubernetes requests not settled",
                seconds,
                unended,
                unsettled,
            )
        return not unended and not unsettled

    def _start(self, key: Key, watched: Watched) -> None:
        if watched.task is not None:
            return
        context = self._context.copy() if self._context is not None else None
        task = asyncio.create_task(
            self._run_loop(watched), name=f"loop {key[0]}/{key[1]}", context=context
        )
        watched.task = task
        task.add_done_callback(lambda ended: self._ended(key, watched, ended), context=context)

    def _ended(self, key: Key, watched: Watched, task: asyncio.Task[None]) -> None:
        """A loop that returned saw its resource gone: forget it. One that raised (nothing in
        it should: the loop has a last-resort catch) is restarted by the resource's next
        event."""
        if watched.task is task:
            watched.task = None
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            logger.error(
                "the loop of %s/%s ended by an exception; its next event restarts it",
                *key,
                exc_info=error,
            )
        elif self._resources.get(key) is watched:
            del self._resources[key]


def _cancel(watched: Watched) -> None:
    if watched.task is not None:
        watched.task.cancel()
        watched.task = None
