"""One resource's loop: reconcile, apply the outcome, sleep until the next attempt or a wake-up.

kopf starts it as a daemon per MaskinportenClient (:mod:`.handlers`); it needs no kopf itself,
so its timing is tested on a virtual clock. No exception ends it: the reconciliation turns
failures into outcomes, and anything that still escapes reconciling or applying an outcome is
logged and retried after the base back-off, never faster.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable

from maskinporten_operator.reconcile.effects import ClientRef
from maskinporten_operator.reconcile.reconciler import Outcome
from maskinporten_operator.runtime.apply import resource_logger
from maskinporten_operator.runtime.wakeups import Stopped, Wakeup

logger = logging.getLogger(__name__)


async def keep_supplied(
    ref: Callable[[], ClientRef],
    *,
    reconcile: Callable[[ClientRef], Awaitable[Outcome]],
    apply: Callable[[ClientRef, Outcome], Awaitable[None]],
    wakeup: Wakeup,
    stopped: Stopped,
    clock: Callable[[], float],
    retry_base_seconds: float,
) -> None:
    """Run until ``stopped``: ``ref()`` is the resource as last seen (its generation moves);
    ``clock`` gives Unix time, as :attr:`Outcome.next_attempt_at` does."""
    while not stopped:
        current = ref()
        next_attempt_at = clock() + retry_base_seconds
        try:
            outcome = await reconcile(current)
            next_attempt_at = outcome.next_attempt_at
            await apply(current, outcome)
        except Exception as error:  # the last resort: no exception ends a resource's loop
            resource_logger(current).error(
                "unexpected %s, retried in %.0f s or sooner, at:\n%s",
                type(error).__name__,
                retry_base_seconds,
                "".join(traceback.format_tb(error.__traceback__)),
            )
            next_attempt_at = min(next_attempt_at, clock() + retry_base_seconds)
        await wakeup.wait(max(next_attempt_at - clock(), 0.0), stopped)
