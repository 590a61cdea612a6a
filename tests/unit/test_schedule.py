"""When a token is refreshed, and how long the operator waits after a failed request.

Time is a plain number here (seconds since an arbitrary epoch) and randomness a seeded
``random.Random``, so every expectation is exact and nothing sleeps.
"""

from __future__ import annotations

import random

import pytest

from maskinporten_operator.reconcile.schedule import (
    KUBELET_SYNC,
    MARGIN_SECONDS,
    NO_VALID_TOKEN_MAX_SECONDS,
    OUTAGE_FRACTION,
    PROMPTED,
    Delivery,
    RefreshPolicy,
    RetryPolicy,
    attempt_after_failure,
    keeps_margin,
    plan_refresh,
    retry_delay,
)

ISSUED_AT = 1_800_000_000.0
DEFAULTS = RefreshPolicy(at_lifetime_percent=50, before_expiry_seconds=300)
RETRY = RetryPolicy(base_seconds=15.0, max_seconds=900.0)
SEEDS = range(200)


def seeded(seed: int) -> random.Random:
    """Deterministic jitter for a test (not cryptography: the operator only spreads load)."""
    return random.Random(seed)  # noqa: S311


class NoJitter(random.Random):
    """A ``random.Random`` whose ``uniform`` always returns the lower bound (no jitter)."""

    def uniform(self, a: float, b: float) -> float:
        return a


class FullJitter(random.Random):
    """A ``random.Random`` whose ``uniform`` always returns the upper bound (maximum jitter)."""

    def uniform(self, a: float, b: float) -> float:
        return b


def refresh_at(
    lifetime: float, policy: RefreshPolicy = DEFAULTS, rng: random.Random | None = None
) -> float:
    plan = plan_refresh(
        issued_at=ISSUED_AT,
        expires_at=ISSUED_AT + lifetime,
        policy=policy,
        rng=rng or NoJitter(),
    )
    return plan.refresh_at - ISSUED_AT


# --- when a refresh is due ----------------------------------------------------------------------


def test_refresh_is_due_at_half_the_lifetime_by_default() -> None:
    assert refresh_at(3600) == 1800


def test_refresh_is_due_before_expiry_seconds_ahead_when_that_comes_first() -> None:
    policy = RefreshPolicy(at_lifetime_percent=90, before_expiry_seconds=1000)

    assert refresh_at(7200, policy) == 6200


def test_refresh_is_due_at_the_lifetime_percentage_when_that_comes_first() -> None:
    policy = RefreshPolicy(at_lifetime_percent=80, before_expiry_seconds=60)

    assert refresh_at(3600, policy) == 2880


def test_refresh_is_due_at_the_earlier_of_the_two_rules_for_a_599_second_token() -> None:
    assert refresh_at(599) == 299


def test_percentage_rule_applies_when_before_expiry_exceeds_the_lifetime() -> None:
    assert refresh_at(120) == 60


def test_percentage_rule_applies_when_before_expiry_equals_the_lifetime() -> None:
    assert refresh_at(300) == 150


def test_refresh_of_a_token_without_lifetime_is_due_immediately() -> None:
    assert refresh_at(0) == 0


# --- jitter -------------------------------------------------------------------------------------


@pytest.mark.parametrize("lifetime", [120, 599, 3600, 7200])
def test_jitter_only_ever_moves_the_refresh_earlier(lifetime: int) -> None:
    unjittered = refresh_at(lifetime)

    for seed in SEEDS:
        assert refresh_at(lifetime, rng=seeded(seed)) <= unjittered


@pytest.mark.parametrize("lifetime", [120, 599, 3600, 7200])
def test_jitter_moves_the_refresh_by_at_most_ten_percent_of_the_wait(lifetime: int) -> None:
    unjittered = refresh_at(lifetime)

    for seed in SEEDS:
        assert refresh_at(lifetime, rng=seeded(seed)) >= unjittered * 0.9


def test_maximum_jitter_is_exactly_ten_percent_of_the_wait() -> None:
    assert refresh_at(3600, rng=FullJitter()) == pytest.approx(1800 * 0.9)


def test_jitter_spreads_clients_issued_at_the_same_moment() -> None:
    times = {refresh_at(3600, rng=seeded(seed)) for seed in range(20)}

    assert len(times) == 20


def test_same_seed_gives_the_same_refresh_time() -> None:
    assert refresh_at(3600, rng=seeded(7)) == refresh_at(3600, rng=seeded(7))


# --- whether a pod's token keeps the margin -------------------------------------------------------


KEEPS_MARGIN = {
    (120, KUBELET_SYNC): False,  # refreshed 60-66 s before expiry: under 90 + 30
    (180, KUBELET_SYNC): False,  # 90-99 s: a pod may read an expired token
    (240, KUBELET_SYNC): True,  # 120-132 s
    (300, KUBELET_SYNC): True,  # 150-165 s (300 s is not over beforeExpirySeconds: by half)
    (600, KUBELET_SYNC): True,  # 300-330 s
    (3600, KUBELET_SYNC): True,  # 1800-1980 s
    (120, PROMPTED): True,  # 60-66 s, over 10 + 30
    (180, PROMPTED): True,
    (240, PROMPTED): True,
    (300, PROMPTED): True,
    (600, PROMPTED): True,
    (3600, PROMPTED): True,
}
"""Whether a pod's token keeps ``MARGIN_SECONDS`` (30 s) with the default refresh policy, per
Maskinporten lifetime and delivery."""


@pytest.mark.parametrize(
    "jitter", [NoJitter(), FullJitter()], ids=["latest-refresh", "earliest-refresh"]
)
@pytest.mark.parametrize(
    ("lifetime", "delivery", "expected"),
    [(lifetime, delivery, kept) for (lifetime, delivery), kept in KEEPS_MARGIN.items()],
    ids=[f"{lifetime}s-{d.seconds:g}s-delivery" for lifetime, d in KEEPS_MARGIN],
)
def test_a_pods_token_keeps_the_margin_by_lifetime_and_delivery_with_the_default_policy(
    lifetime: int, delivery: Delivery, expected: bool, jitter: random.Random
) -> None:
    plan = plan_refresh(
        issued_at=ISSUED_AT, expires_at=ISSUED_AT + lifetime, policy=DEFAULTS, rng=jitter
    )
    verdict = keeps_margin(
        refresh_at=plan.refresh_at, expires_at=ISSUED_AT + lifetime, delivery=delivery
    )
    assert verdict is expected


@pytest.mark.parametrize(
    ("ahead", "expected"),
    [
        (KUBELET_SYNC.seconds + MARGIN_SECONDS, True),
        (KUBELET_SYNC.seconds + MARGIN_SECONDS - 1, False),
    ],
    ids=["delivery-plus-margin", "a-second-less"],
)
def test_a_pods_token_keeps_the_margin_iff_refreshed_delivery_plus_margin_before_expiry(
    ahead: float, expected: bool
) -> None:
    expires_at = ISSUED_AT + 600
    verdict = keeps_margin(
        refresh_at=expires_at - ahead, expires_at=expires_at, delivery=KUBELET_SYNC
    )
    assert verdict is expected


# --- back-off after failures --------------------------------------------------------------------


VALID_FOR_A_DAY = ISSUED_AT + 86_400
FAILING_FOR_A_DAY = 86_400.0


def delay(
    failures: int,
    *,
    seed: int = 1,
    policy: RetryPolicy = RETRY,
    now: float = ISSUED_AT,
    valid_until: float | None = VALID_FOR_A_DAY,
    failing_for: float = FAILING_FOR_A_DAY,
) -> float:
    """The delay while a valid token is in place and failures began long ago, unless told."""
    return retry_delay(
        consecutive_failures=failures,
        policy=policy,
        rng=seeded(seed),
        now=now,
        valid_token_expires_at=valid_until,
        failing_for=failing_for,
    )


def test_first_retry_waits_the_base_delay() -> None:
    for seed in SEEDS:
        assert delay(1, seed=seed) == RETRY.base_seconds


@pytest.mark.parametrize("failures", range(1, 12))
def test_retry_never_waits_less_than_the_base_delay(failures: int) -> None:
    for seed in SEEDS:
        assert delay(failures, seed=seed) >= RETRY.base_seconds


@pytest.mark.parametrize("failures", [2, 3, 4, 5])
def test_retry_delay_doubles_per_consecutive_failure(failures: int) -> None:
    assert delay(failures + 1, seed=3) == pytest.approx(2 * delay(failures, seed=3))


def test_retry_delay_follows_base_times_two_to_the_failures_minus_one() -> None:
    for failures in range(1, 6):
        expected = RETRY.base_seconds * 2 ** (failures - 1)
        for seed in SEEDS:
            assert expected * 0.9 <= delay(failures, seed=seed) <= expected


def test_retry_delay_is_capped_at_max_seconds() -> None:
    for failures in (7, 10, 50, 1000):
        for seed in SEEDS:
            assert RETRY.max_seconds * 0.9 <= delay(failures, seed=seed) <= RETRY.max_seconds


def test_retry_delay_for_zero_failures_is_the_base_delay() -> None:
    assert delay(0, seed=5) == delay(1, seed=5)


def test_retry_is_shortened_so_one_more_attempt_lands_before_the_token_expires() -> None:
    now = ISSUED_AT + 3000
    expires_at = ISSUED_AT + 3600

    for seed in SEEDS:
        wait = delay(8, seed=seed, now=now, valid_until=expires_at)
        assert wait <= (expires_at - now) / 2
        assert now + wait < expires_at


def test_retry_is_not_shortened_when_the_token_outlives_the_back_off() -> None:
    expected = RETRY.base_seconds * 4

    assert expected * 0.9 <= delay(3, seed=9, valid_until=ISSUED_AT + 86_400) <= expected


@pytest.mark.parametrize("remaining", [0.0, 1.0, 10.0, 29.0])
def test_retry_is_never_shortened_below_base_when_a_valid_token_exists(remaining: float) -> None:
    for failures in range(2, 12):
        for seed in range(20):
            wait = delay(failures, seed=seed, valid_until=ISSUED_AT + remaining)
            assert wait >= RETRY.base_seconds


def test_retry_without_a_valid_token_waits_at_most_the_short_cap() -> None:
    for failures in (5, 10, 50):
        for seed in SEEDS:
            assert delay(failures, seed=seed, valid_until=None) <= NO_VALID_TOKEN_MAX_SECONDS


def test_retry_without_a_valid_token_still_waits_the_base_delay() -> None:
    for seed in SEEDS:
        assert delay(1, seed=seed, valid_until=None) >= RETRY.base_seconds * 0.9


@pytest.mark.parametrize("outage", [200.0, 1000.0, 10_000.0])
def test_retry_waits_at_most_half_the_time_already_spent_failing(outage: float) -> None:
    for seed in SEEDS:
        assert delay(30, seed=seed, failing_for=outage) <= outage * OUTAGE_FRACTION


def test_retry_after_a_short_outage_still_waits_the_base_delay() -> None:
    for seed in SEEDS:
        assert delay(3, seed=seed, failing_for=1.0) >= RETRY.base_seconds * 0.9


def test_after_a_failure_the_back_off_is_kept_when_the_failed_tokens_refresh_is_past() -> None:
    now = ISSUED_AT + 2000
    past_refresh = ISSUED_AT + 1800

    assert attempt_after_failure(now=now, delay=120, refreshes=[past_refresh]) == now + 120


def test_after_a_failure_another_tokens_earlier_refresh_comes_first() -> None:
    now = ISSUED_AT + 2000

    assert attempt_after_failure(now=now, delay=120, refreshes=[now + 30, now - 5]) == now + 30
