"""When to refresh a token, whether pods get the next one in time, and how long to wait after a
failure. Pure: time is an argument.

A refresh is due when ``at_lifetime_percent`` of the lifetime has passed or only
``before_expiry_seconds`` remain, whichever comes first, pulled earlier (never later) by up to
``JITTER_FRACTION`` of the wait so that many clients do not refresh in lockstep.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

JITTER_FRACTION = 0.1


@dataclass(frozen=True)
class Delivery:
    """How a new token reaches the files of the pods that mount the workload Secret: a name for
    messages, and ``seconds``, the bound on the time from the Secret's write to the pods' files."""

    name: str
    seconds: float


KUBELET_SYNC = Delivery("the kubelet's periodic sync", 90.0)
"""The kubelet writes a changed Secret into a pod's volume at its next sync of that pod: every
``syncFrequency`` (default 60 s) with jitter up to x1.5, so up to 90 s late (measured on the
one-node cluster: p50 25-45 s, max 56-81 s; ``hack/bench-token-files``)."""
PROMPTING_OFF = Delivery(
    "the kubelet's periodic sync, prompting pods being turned off", KUBELET_SYNC.seconds
)
"""The kubelet's own sync, when the operator prompts no pod at all
(``MASKINPORTEN_OPERATOR_PROMPT_PODS=false``): labelling pods would change nothing."""
PROMPT_REFUSED = Delivery(
    "the kubelet's periodic sync, the API server refusing to let its pods be prompted",
    KUBELET_SYNC.seconds,
)
"""The kubelet's own sync, when the client's pods are labelled but the API server refused the
last prompt (RBAC or an admission policy): labelling them again would change nothing."""
PROMPTED = Delivery("a prompted kubelet sync", 10.0)
"""Pods prompted right after the write (labelled for it) are synced at once: measured
0.19-1.14 s; 10 s leaves room for a busy kubelet."""
MARGIN_SECONDS = 30.0
"""The least validity a pod's token keeps when the next one reaches its file: time for the token
request behind the refresh, for the app to use the token it read (a request and its retries)
and for clocks that differ between the node and the API that checks ``exp``."""


def keeps_margin(*, refresh_at: float, expires_at: float, delivery: Delivery) -> bool:
    """Whether a pod's token keeps at least ``MARGIN_SECONDS`` when the token refreshed at
    ``refresh_at`` (Unix time) reaches the pod through ``delivery``: the token in the pod
    expires at ``expires_at``, the next one lands by ``refresh_at + delivery.seconds``."""
    return expires_at - refresh_at >= delivery.seconds + MARGIN_SECONDS


MOUNT_DELAY_SECONDS = KUBELET_SYNC.seconds + MARGIN_SECONDS
"""How long after a Secret's change every pod mounting it has used the new content: the
kubelet's bound and the margin."""


@dataclass(frozen=True)
class RefreshPolicy:
    at_lifetime_percent: int
    before_expiry_seconds: int


@dataclass(frozen=True, slots=True)
class RefreshPlan:
    refresh_at: float


def plan_refresh(
    *, issued_at: float, expires_at: float, policy: RefreshPolicy, rng: random.Random
) -> RefreshPlan:
    lifetime = max(expires_at - issued_at, 0.0)
    by_fraction = issued_at + lifetime * policy.at_lifetime_percent / 100
    by_remaining = expires_at - policy.before_expiry_seconds
    target = min(by_fraction, by_remaining) if by_remaining > issued_at else by_fraction
    target -= rng.uniform(0.0, JITTER_FRACTION) * (target - issued_at)
    return RefreshPlan(refresh_at=target)


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float
    max_seconds: float


OUTAGE_FRACTION = 0.5
"""A retry waits at most this fraction of the time already spent failing (but at least the
base delay), so that recovery after an outage takes a fraction of the outage, whatever its
length."""
NO_VALID_TOKEN_MAX_SECONDS = 60.0
"""The longest wait while no valid token is in place (at least the base delay)."""


def retry_delay(
    *,
    consecutive_failures: int,
    policy: RetryPolicy,
    rng: random.Random,
    now: float,
    valid_token_expires_at: float | None,
    failing_for: float,
) -> float:
    """Seconds until the next attempt after ``consecutive_failures`` failures in a row, which
    began ``failing_for`` seconds ago.

    Exponential back-off with jitter (``base_seconds`` doubling, at most ``max_seconds``), and
    never more than ``OUTAGE_FRACTION`` of ``failing_for``. While a valid token is still in
    place, the wait is shortened so that one more attempt lands before it expires; without
    one, it is at most ``NO_VALID_TOKEN_MAX_SECONDS``. Never below ``base_seconds``: a failing
    resource is never retried faster than that.
    """
    exponent = max(consecutive_failures - 1, 0)
    delay = min(policy.base_seconds * 2.0**exponent, policy.max_seconds)
    delay = min(delay, max(policy.base_seconds, failing_for * OUTAGE_FRACTION))
    if valid_token_expires_at is None:
        delay = min(delay, max(policy.base_seconds, NO_VALID_TOKEN_MAX_SECONDS))
    delay = max(delay * rng.uniform(1.0 - JITTER_FRACTION, 1.0), policy.base_seconds)
    if valid_token_expires_at is not None:
        delay = min(delay, max(policy.base_seconds, (valid_token_expires_at - now) / 2))
    return delay


@dataclass(frozen=True, slots=True)
class FailureStreak:
    """Failures in a row: how many, and when the first of them happened (Unix time). The empty
    streak (``FailureStreak()``) is a healthy state."""

    count: int = 0
    since: float | None = None

    def recorded(self, now: float) -> FailureStreak:
        """This streak with one more failure, at ``now``."""
        return FailureStreak(self.count + 1, self.since if self.since is not None else now)

    def retry_delay(
        self,
        policy: RetryPolicy,
        rng: random.Random,
        *,
        now: float,
        valid_token_expires_at: float | None,
        failing_for: float | None = None,
    ) -> float:
        """:func:`retry_delay` after this streak; ``failing_for`` defaults to the time since
        the streak began."""
        if failing_for is None:
            failing_for = now - self.since if self.since is not None else 0.0
        return retry_delay(
            consecutive_failures=self.count,
            policy=policy,
            rng=rng,
            now=now,
            valid_token_expires_at=valid_token_expires_at,
            failing_for=failing_for,
        )


def attempt_after_failure(*, now: float, delay: float, refreshes: Iterable[float]) -> float:
    """When to try again after a failure: after the back-off ``delay``, or at an earlier refresh
    still to come for another token. Refresh times already past (the failed token's own) do
    not count: they would turn the back-off into a retry loop."""
    return min([now + delay, *(at for at in refreshes if at > now)])
