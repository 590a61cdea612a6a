"""When to refresh a token, and how long to wait after a failure. Pure: time is an argument.

A refresh is due when ``at_lifetime_percent`` of the lifetime has passed or only
``before_expiry_seconds`` remain, whichever comes first, pulled earlier (never later) by up to
``JITTER_FRACTION`` of the wait so that many clients do not refresh in lockstep.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

JITTER_FRACTION = 0.1
MOUNT_DELAY_SECONDS = 150.0
"""kubelet syncs a mounted Secret up to ~120 s late; plus time for the app to read it."""


@dataclass(frozen=True)
class RefreshPolicy:
    at_lifetime_percent: int
    before_expiry_seconds: int


@dataclass(frozen=True)
class RefreshPlan:
    refresh_at: float
    lifetime_is_safe: bool
    """False when a pod reading the mounted file could see the token expire before the next one
    reaches it."""


def plan_refresh(
    *, issued_at: float, expires_at: float, policy: RefreshPolicy, rng: random.Random
) -> RefreshPlan:
    lifetime = max(expires_at - issued_at, 0.0)
    by_fraction = issued_at + lifetime * policy.at_lifetime_percent / 100
    by_remaining = expires_at - policy.before_expiry_seconds
    target = min(by_fraction, by_remaining) if by_remaining > issued_at else by_fraction
    target -= rng.uniform(0.0, JITTER_FRACTION) * (target - issued_at)
    return RefreshPlan(
        refresh_at=target,
        lifetime_is_safe=expires_at - target >= MOUNT_DELAY_SECONDS,
    )


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float
    max_seconds: float


def retry_delay(
    *,
    consecutive_failures: int,
    policy: RetryPolicy,
    rng: random.Random,
    now: float,
    valid_token_expires_at: float | None,
) -> float:
    """Exponential back-off with jitter, bounded by ``max_seconds``, never below
    ``base_seconds``: a failing resource is never retried faster than that.

    While a valid token is still in place, the wait is shortened so that one more attempt lands
    before it expires, but never below ``base_seconds`` either.
    """
    exponent = max(consecutive_failures - 1, 0)
    delay = min(policy.base_seconds * 2.0**exponent, policy.max_seconds)
    delay = max(delay * rng.uniform(1.0 - JITTER_FRACTION, 1.0), policy.base_seconds)
    if valid_token_expires_at is not None:
        delay = min(delay, max(policy.base_seconds, (valid_token_expires_at - now) / 2))
    return delay


def attempt_after_failure(*, now: float, delay: float, refreshes: Iterable[float]) -> float:
    """When to try again after a failure: after the back-off ``delay``, or at an earlier refresh
    still to come for another token. Refresh times already past (the failed token's own) do
    not count: they would turn the back-off into a retry loop."""
    return min([now + delay, *(at for at in refreshes if at > now)])
