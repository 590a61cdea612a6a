"""One resource's loop: reconcile, apply the outcome, sleep until the next attempt or a wake-up.

The supervisor runs it as a task per MaskinportenClient (:mod:`.supervisor`) and cancels it to
stop it; it needs no kopf, so its timing is tested on a virtual clock. No exception ends it: the
reconciliation turns failures into outcomes, and anything that still escapes reconciling or
applying an outcome is logged and retried after the base back-off, never faster. Only the
resource being gone (its status write answered 404) ends it.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable

from maskinporten_operator.reconcile.effects import ClientRef
from maskinporten_operator.reconcile.reconciler import Outcome
from maskinporten_operator.runtime.apply import ResourceGone, resource_logger
from maskinporten_operator.runtime.wakeups import Wakeup

logger = logging.getLogger(__name__)


async def keep_supplied(
    ref: Callable[[], ClientRef],
    *,
    reconcile: Callable[[ClientRef], Awaitable[Outcome]],
    apply: Callable[[ClientRef, Outcome], Awaitable[None]],
    wakeup: Wakeup,
    clock: Callable[[], float],
    retry_base_seconds: float,
) -> None:
    """Run until cancelled, or return when the resource is gone: ``ref()`` is the resource as
    last seen (its generation moves); ``clock`` gives Unix time, as
    :attr:`Outcome.next_attempt_at` does."""
    while True:
        next_attempt_at = await _attempt(
            ref(), reconcile, apply, clock=clock, retry_base_seconds=retry_base_seconds
        )
        if next_attempt_at is None:
            return
        await wakeup.wait(max(next_attempt_at - clock(), 0.0))


async def _attempt(
    current: ClientRef,
    reconcile: Callable[[ClientRef], Awaitable[Outcome]],
    apply: Callable[[ClientRef, Outcome], Awaitable[None]],
    *,
    clock: Callable[[], float],
    retry_base_seconds: float,
) -> float | None:
    """One reconciliation and its outcome applied: when to attempt the next (Unix time), or
    None when the resource is gone. A coroutine of its own, so that nothing of the attempt
    (the outcome, with the status it wrote, ~3 KiB) is held while the loop sleeps."""
    next_attempt_at = clock() + retry_base_seconds
    try:
        outcome = await reconcile(current)
        next_attempt_at = outcome.next_attempt_at
        await apply(current, outcome)
    except ResourceGone:
        resource_logger(current).info("gone: its loop ends")
        return None
    except Exception as error:  # the last resort: no exception ends a resource's loop
        resource_logger(current).error(
            "unexpected %s, retried in %.0f s or sooner, at:\n%s",
            type(error).__name__,
            retry_base_seconds,
            "".join(traceback.format_tb(error.__traceback__)),
        )
        next_attempt_at = min(next_attempt_at, clock() + retry_base_seconds)
    return next_attempt_at
