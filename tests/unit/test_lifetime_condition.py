"""LifetimeSufficient: whether a pod reading the mounted Secret file keeps a token with the
margin left when the next one arrives, by the delivery assumed (the kubelet's own sync until
the client's pods are prompted), and what to do when it does not (whether the operator prompts
pods at all decides)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from maskinporten_operator.reconcile.conditions import LIFETIME_SUFFICIENT
from tests.unit.world import SCOPE, HandRegisteredWorld, Pods, condition

pytestmark = pytest.mark.asyncio(loop_scope="module")

LABEL = "maskinporten-operator.dev/client=weather"


async def lifetime_condition(world: HandRegisteredWorld, lifetime: int) -> Mapping[str, Any]:
    world.maskinporten.set_lifetime(SCOPE, lifetime)
    return condition(await world.reconcile(), LIFETIME_SUFFICIENT)


async def test_120_second_tokens_are_not_sufficient_through_the_kubelets_sync(
    registered_world: HandRegisteredWorld,
) -> None:
    sufficient = await lifetime_condition(registered_world, 120)

    assert (sufficient["status"], sufficient["reason"]) == ("False", "ShorterThanMountDelay")


@pytest.mark.parametrize(
    ("pods", "delivery", "remedy"),
    [
        (
            Pods(),
            "the kubelet's periodic sync (up to 90 s to a pod's file)",
            f"label the pods {LABEL} for prompted delivery",
        ),
        (
            None,
            "the kubelet's periodic sync, prompting pods being turned off (up to 90 s to a pod's "
            "file)",
            "have the operator's administrator turn prompting pods on "
            f"(MASKINPORTEN_OPERATOR_PROMPT_PODS) and label the pods {LABEL}",
        ),
    ],
    ids=["prompting on", "prompting off"],
)
async def test_an_insufficient_lifetime_names_the_delivery_assumed_and_what_to_do(
    registered_world: HandRegisteredWorld, pods: Pods | None, delivery: str, remedy: str
) -> None:
    registered_world.deps = replace(registered_world.deps, pods=pods)

    message = (await lifetime_condition(registered_world, 120))["message"]

    assert f"through {delivery} a pod" in message
    assert f"; {remedy}, ask for a longer token lifetime, or refresh earlier (spec.refresh)" in (
        message
    )


async def test_240_second_tokens_keep_the_margin_through_the_kubelets_sync(
    registered_world: HandRegisteredWorld,
) -> None:
    sufficient = await lifetime_condition(registered_world, 240)

    assert (sufficient["status"], sufficient["reason"]) == ("True", "LongEnough")
    assert "the kubelet's periodic sync" in sufficient["message"]
