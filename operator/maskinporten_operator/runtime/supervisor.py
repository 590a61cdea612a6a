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

Cancelling a loop ends its task at once, but a Kubernetes API write it had sent may still land,
until its timeout (:mod:`maskinporten_operator.adapters.kube`). :meth:`Supervisor.stop_all`
therefore also waits (bounded) for those writes to settle.

No resource is left without its loop, and none ever has two. A loop that ends when nobody asked
it to (an exception past its last resort, or the ``CancelledError`` of a future it awaited,
which is not its own cancellation) is logged and started again after a back-off: the base delay,
doubling up to the maximum, back to the base after a run that lasted the maximum. A loop asked to
stop may take a moment to end (or never, if it swallows the cancellation); a new loop for the
same resource (leading again, the resource recreated) starts only once every earlier one ended.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from maskinporten_operator.reconcile.schedule import RetryPolicy
from maskinporten_operator.settings import Settings

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
"""Waits at most the given seconds for writes already sent to end; how many had not."""


DEFAULT_RESTART = RetryPolicy(
    Settings.model_fields["retry_base_seconds"].default,
    Settings.model_fields["retry_max_seconds"].default,
)
"""The settings' defaults (``retry_base_seconds``, ``retry_max_seconds``)."""


def key_of(body: Mapping[str, Any]) -> Key:
    meta = body["metadata"]
    return (meta.get("namespace") or "", meta["name"])


def _uid(body: Mapping[str, Any]) -> str:
    return str(body["metadata"].get("uid", ""))


class Supervisor:
    """The resources known from the watch and the loops running for them.

    While :attr:`leading`, every live resource has a loop; otherwise events only keep the watch
    state, so that :meth:`start_all` (leadership acquired) starts every loop without reading
    anything. :meth:`stop_all` (leadership lost, shutdown) closes that gate again. ``restart``:
    the back-off before a loop that ended unasked runs again (seconds).
    """

    def __init__(
        self,
        run_loop: RunLoop,
        *,
        leading: bool = True,
        settle: Settle | None = None,
        restart: RetryPolicy = DEFAULT_RESTART,
    ) -> None:
        self._run_loop = run_loop
        self._settle = settle
        self._restart = restart
        self._leading = leading
        self._resources: dict[Key, Watched] = {}
        self._stopping: dict[Key, set[asyncio.Task[None]]] = {}
        """Per resource, its loops asked to stop that have not ended yet."""
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
        """How many loops run (or wait to start again after a back-off, or for an earlier loop
        of their resource to end)."""
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
                self._stop(key, watched)
            return
        if watched is None or _uid(watched.body) != _uid(body):
            if watched is not None:
                self._stop(key, watched)
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
        ended and the Kubernetes writes they had sent have settled. False when some had not
        by then (logged). Events meanwhile start no loop; the watch state is kept."""
        self._leading = False
        for key, watched in self._resources.items():
            self._stop(key, watched)
        tasks = [task for stopping in self._stopping.values() for task in stopping]
        for task in tasks:  # those of resources gone too; a repeated request is harmless
            task.cancel()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        unended = len((await asyncio.wait(tasks, timeout=seconds))[1]) if tasks else 0
        unsettled = await self._settle(max(deadline - loop.time(), 0.0)) if self._settle else 0
        if unended or unsettled:
            logger.warning(
                "after %.0f s, %d loops had not ended and %d Kubernetes writes not settled",
                seconds,
                unended,
                unsettled,
            )
        return not unended and not unsettled

    def _start(self, key: Key, watched: Watched) -> None:
        """A loop for ``watched`` unless it has one; it waits for the resource's loops still
        stopping to end first."""
        if watched.task is not None:
            return
        earlier = tuple(self._stopping.get(key, ()))
        context = self._context.copy() if self._context is not None else None
        task = asyncio.create_task(
            self._keep(key, watched, earlier), name=f"loop {key[0]}/{key[1]}", context=context
        )
        watched.task = task
        task.add_done_callback(lambda ended: self._ended(watched, ended), context=context)

    def _stop(self, key: Key, watched: Watched) -> None:
        """Ask the loop of ``watched`` to stop (it is the resource's no more from now on), and
        again those of the resource's loops still stopping (one may have swallowed a request)."""
        task, watched.task = watched.task, None
        if task is not None and not task.done():
            self._stopping.setdefault(key, set()).add(task)
            task.add_done_callback(lambda ended: self._stopped(key, ended))
        for stopping in self._stopping.get(key, ()):
            stopping.cancel()

    def _stopped(self, key: Key, task: asyncio.Task[None]) -> None:
        stopping = self._stopping.get(key, set())
        stopping.discard(task)
        if not stopping:
            self._stopping.pop(key, None)

    def _ended(self, watched: Watched, task: asyncio.Task[None]) -> None:
        if watched.task is task:
            watched.task = None

    async def _keep(
        self, key: Key, watched: Watched, earlier: tuple[asyncio.Task[None], ...]
    ) -> None:
        """The task of one resource's loop: once the ``earlier`` loops have ended, run the loop
        until asked to stop, again after a back-off each time it ends unasked; a loop that
        returns saw its resource gone, which is then forgotten."""
        if earlier:
            await asyncio.wait(earlier)
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            started = loop.time()
            error = await self._run_once(watched)
            if _stop_asked(watched):
                return
            if error is None:
                if self._resources.get(key) is watched:
                    del self._resources[key]
                return
            failures = 1 if loop.time() - started >= self._restart.max_seconds else failures + 1
            delay = _restart_delay(failures, self._restart)
            logger.error(
                "the loop of %s/%s ended unasked (%s); it starts again in %.0f s. It ended at:\n%s",
                *key,
                _cause(error),
                delay,
                "".join(traceback.format_tb(error.__traceback__)),
            )
            await asyncio.sleep(delay)

    async def _run_once(self, watched: Watched) -> BaseException | None:
        """Run the loop once: None when it returned, else what ended it unasked."""
        try:
            await self._run_loop(watched)
        except asyncio.CancelledError as error:
            if _stop_asked(watched):
                raise
            return error
        except Exception as error:  # the last resort: no exception ends a resource's loop
            return error
        return None


def _restart_delay(failures: int, policy: RetryPolicy) -> float:
    """Seconds before a loop runs again after ``failures`` unasked endings in a row (1 the
    first): ``base_seconds`` doubling, at most ``max_seconds``."""
    return float(min(policy.base_seconds * 2.0 ** (failures - 1), policy.max_seconds))


def _stop_asked(watched: Watched) -> bool:
    """Whether the current task, a loop of ``watched``, was asked to stop: cancelled by the
    supervisor (no longer the resource's loop) or by anyone (the event loop shutting down)."""
    task = asyncio.current_task()
    return task is not None and (watched.task is not task or task.cancelling() > 0)


def _cause(error: BaseException) -> str:
    """What ended a loop, for the log: the exception's type, never its message (it may quote a
    secret)."""
    if isinstance(error, asyncio.CancelledError):
        return "the CancelledError of something it awaited, not its own cancellation"
    return f"an unexpected {type(error).__name__}"
