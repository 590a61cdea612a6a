"""Status conditions in the Kubernetes convention (type, status, reason, message,
observedGeneration, lastTransitionTime that moves only when the status flips)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from maskinporten_operator.reasons import Reason

READY = "Ready"
LIFETIME_SUFFICIENT = "LifetimeSufficient"
CLIENT_REGISTERED = "ClientRegistered"


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: Reason
    message: str


def render_conditions(
    desired: Iterable[Condition],
    existing: Sequence[Mapping[str, Any]],
    *,
    generation: int | None,
    now: str,
) -> list[dict[str, Any]]:
    """The full list (a merge patch replaces lists whole), keeping unchanged transition times."""
    previous = {condition.get("type"): condition for condition in existing}
    rendered = []
    for condition in desired:
        status = "True" if condition.status else "False"
        before = previous.get(condition.type, {})
        transition = before.get("lastTransitionTime") if before.get("status") == status else None
        rendered.append(
            {
                "type": condition.type,
                "status": status,
                "reason": condition.reason,
                "message": condition.message,
                "observedGeneration": generation,
                "lastTransitionTime": transition or now,
            }
        )
    return rendered


def find(conditions: Sequence[Mapping[str, Any]], condition_type: str) -> Mapping[str, Any]:
    return next((c for c in conditions if c.get("type") == condition_type), {})
