"""The README's MaskinportenTokenAboutToExpire alert, evaluated over the operator's own
``/metrics`` output while the reconcile core keeps a client supplied on a frozen clock: quiet in
healthy operation at the lifetimes Maskinporten grants, firing before expiry when refreshes keep
failing, and firing where a pod can really read an expired token.

The operator is run as its loop runs it: a reconciliation at each outcome's next attempt, the
outcome applied to the gauges; Prometheus scrapes every ``SCRAPE_SECONDS``.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from prometheus_client import generate_latest

from maskinporten_operator.adapters.metrics import Metrics
from maskinporten_operator.reconcile.schedule import KUBELET_SYNC, PROMPTED, Delivery
from maskinporten_operator.runtime.apply import apply_outcome
from tests.unit.alert_rules import firing, readme_alert, scraped
from tests.unit.world import CLIENT_ID, REF, SCOPE, START, HandRegisteredWorld

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALERT = "MaskinportenTokenAboutToExpire"
SCRAPE_SECONDS = 15.0
REFRESHES = 10
"""How many lifetimes each healthy run covers."""
EARLIEST_REFRESH = 0.45
"""Of the lifetime: the default policy's refresh at half of it, pulled earlier by jitter."""


async def alert_times(
    world: HandRegisteredWorld, delivery: Delivery, seconds: float
) -> list[float]:
    """The scrape times (seconds since the start) at which the alert fires over ``seconds``.
    ``delivery`` stands in for the reconciler's fact about the client's pods (prompted or not)."""
    expr, metrics = readme_alert(ALERT), world.deps.metrics
    assert isinstance(metrics, Metrics)
    fired: list[float] = []
    next_attempt = next_scrape = START
    while (now := world.clock.now()) < START + seconds:
        if now >= next_attempt:
            outcome = replace(await world.reconcile(), delivery=delivery)
            await apply_outcome(
                outcome,
                ref=REF,
                current_status={},
                memory=world.memory,
                kube=world.kube,
                post_event=lambda event: None,
                client_states=metrics.clients,
            )
            next_attempt = outcome.next_attempt_at
        if now >= next_scrape:
            text = generate_latest(metrics.registry).decode()
            if firing(expr, scraped(text, now)):
                fired.append(now - START)
            next_scrape = now + SCRAPE_SECONDS
        world.advance(min(next_attempt, next_scrape) - now)
    return fired


@pytest.mark.parametrize(
    ("lifetime", "delivery"),
    [(120, PROMPTED), (180, KUBELET_SYNC), (300, KUBELET_SYNC), (3600, KUBELET_SYNC)],
    ids=["120s-prompted", "180s-kubelet", "300s-kubelet", "3600s-kubelet"],
)
async def test_the_alert_stays_quiet_in_healthy_operation(
    registered_world: HandRegisteredWorld, lifetime: int, delivery: Delivery
) -> None:
    registered_world.maskinporten.set_lifetime(SCOPE, lifetime)

    assert await alert_times(registered_world, delivery, seconds=REFRESHES * lifetime) == []


async def test_the_alert_fires_for_120_second_tokens_delivered_by_the_kubelets_sync(
    registered_world: HandRegisteredWorld,
) -> None:
    """Refreshed 54-60 s before expiry, a token may take 90 s to reach a pod: a pod can read an
    expired one."""
    registered_world.maskinporten.set_lifetime(SCOPE, 120)

    assert await alert_times(registered_world, KUBELET_SYNC, seconds=120) != []


@pytest.mark.parametrize(
    ("lifetime", "delivery"),
    [(120, PROMPTED), (300, KUBELET_SYNC), (3600, KUBELET_SYNC)],
    ids=["120s-prompted", "300s-kubelet", "3600s-kubelet"],
)
async def test_the_alert_fires_before_expiry_when_refreshes_keep_failing(
    registered_world: HandRegisteredWorld, lifetime: int, delivery: Delivery
) -> None:
    registered_world.maskinporten.set_lifetime(SCOPE, lifetime)

    await registered_world.reconcile()  # the first token, issued at START
    registered_world.maskinporten.fail_client(CLIENT_ID, count=10_000)
    fired = await alert_times(registered_world, delivery, seconds=lifetime + 60)

    assert fired
    assert EARLIEST_REFRESH * lifetime <= fired[0] < lifetime
