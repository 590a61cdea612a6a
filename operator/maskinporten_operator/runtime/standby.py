"""A standby replica's part in a managed client's deletion: it waits, and writes nothing.

kopf calls the deletion handler (:func:`~.handlers.delete_managed_client`) on every replica,
but only the leader deletes the client at Digdir. A standby that failed the handler instead
(``kopf.TemporaryError``) would have kopf write its retry state on the resource every retry
period, which the leader then reads as its own failed attempts. So a standby waits inside the
handler until it leads (then it deletes, as the leader does) or the deletion no longer waits
for it: the resource is gone, or its finalizer was removed (the leader is done). Returning then
leaves kopf nothing to write but its finalizer removal, which it sends with the resource
version it last saw and so is refused by the API server (the resource changed since).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from maskinporten_operator.ports import KubeError

logger = logging.getLogger(__name__)


async def wait_to_delete(
    is_leading: Callable[[], bool], finalizer_kept: Callable[[], Awaitable[bool]], *, period: float
) -> bool:
    """True as soon as this replica leads; False once ``finalizer_kept()`` says the deletion
    no longer waits. Both are asked every ``period`` seconds (the election's retry period)."""
    while not is_leading():
        if not await finalizer_kept():
            return False
        await asyncio.sleep(period)
    return True


async def kept_by_finalizer(
    read: Callable[[], Awaitable[Mapping[str, Any] | None]], *, uid: str, finalizer: str
) -> bool:
    """Whether the resource ``read()`` returns (None: there is none) is still the one with
    ``uid`` and still carries ``finalizer``. A failed read says yes: the wait goes on."""
    try:
        body = await read()
    except KubeError as error:
        logger.info("standing by for a deletion: %s; read again", error)
        return True
    if body is None:
        return False
    meta = body.get("metadata") or {}
    return meta.get("uid") == uid and finalizer in (meta.get("finalizers") or [])
