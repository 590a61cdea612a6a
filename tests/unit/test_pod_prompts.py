"""After a new token the reconciliation prompts the client's labelled pods; a refusal falls back
to the kubelet's own sync with one Event, and one more when prompting works again. The reconcile
core against in-memory pods and the harness of :mod:`tests.unit.world`; nothing sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio

from maskinporten_operator.credentials.keys import ClientKey
from maskinporten_operator.ports import KubeError
from maskinporten_operator.reasons import EventType, Reason
from maskinporten_operator.reconcile.conditions import LIFETIME_SUFFICIENT
from maskinporten_operator.reconcile.delivery import PromptRefusal
from maskinporten_testbed.standin import MaskinportenStandin

from .world import (
    NAMESPACE,
    READY,
    WORKLOAD_SECRET,
    HandRegisteredWorld,
    Pods,
    condition,
    events_of,
    hand_registered_world,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

SCOPE = "test:read"
LIFETIME = 120
SPEC: Mapping[str, Any] = {"clientId": "weather-client", "scopes": {"consumes": [{"name": SCOPE}]}}

FORBIDDEN = KubeError(
    action="annotating",
    subject="Pod team/reader",
    status=403,
    detail='HTTP 403 Forbidden: pods "reader" is forbidden: cannot patch resource "pods"',
)
GONE = KubeError(action="annotating", subject="Pod team/reader", status=404, detail="HTTP 404")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def maskinporten() -> AsyncIterator[MaskinportenStandin]:
    async with MaskinportenStandin(lifetimes={SCOPE: LIFETIME}) as standin:
        yield standin


@pytest.fixture
def pods() -> Pods:
    found = Pods()
    found.labelled_for[(NAMESPACE, "weather")] = ("reader", "writer")
    return found


@pytest_asyncio.fixture(loop_scope="module")
async def world(
    maskinporten: MaskinportenStandin, client_key: ClientKey, pods: Pods
) -> AsyncIterator[HandRegisteredWorld]:
    async with hand_registered_world(maskinporten, client_key, SPEC) as world:
        world.deps = replace(world.deps, pods=pods)
        world.put_registered_key()
        yield world


def secret_version(world: HandRegisteredWorld) -> str:
    secret = world.kube.secret(NAMESPACE, WORKLOAD_SECRET)
    assert secret is not None
    version: str = secret["metadata"]["resourceVersion"]
    return version


async def next_token(world: HandRegisteredWorld) -> None:
    """Time passes to the refresh; one reconciliation writes a new token."""
    world.advance(LIFETIME)
    await world.reconcile()


async def test_a_new_token_prompts_every_labelled_pod_with_the_secrets_version(
    world: HandRegisteredWorld, pods: Pods
) -> None:
    await world.reconcile()

    assert pods.version("reader") == pods.version("writer") == secret_version(world)


async def test_each_new_token_prompts_the_pods_again_with_the_new_version(
    world: HandRegisteredWorld, pods: Pods
) -> None:
    await world.reconcile()
    first = pods.version("reader")
    await next_token(world)

    assert pods.version("reader") == secret_version(world) != first


async def test_a_token_reused_prompts_no_pod(world: HandRegisteredWorld, pods: Pods) -> None:
    await world.reconcile()
    pods.annotations.clear()
    await world.reconcile()

    assert pods.annotations == {}


async def test_pods_labelled_for_another_client_are_not_prompted(
    world: HandRegisteredWorld, pods: Pods
) -> None:
    pods.labelled_for[(NAMESPACE, "rain")] = ("neighbour",)
    await world.reconcile()

    assert pods.version("neighbour") is None


async def test_a_refused_prompt_is_one_warning_event_naming_the_pod_and_the_reason(
    world: HandRegisteredWorld, pods: Pods
) -> None:
    pods.refusing["reader"] = FORBIDDEN
    outcome = await world.reconcile()

    refused = [e for e in outcome.events if e.reason is Reason.POD_PROMPT_REFUSED]
    assert [e.type for e in refused] == [EventType.WARNING]
    assert "pod reader" in refused[0].message
    assert FORBIDDEN.detail in refused[0].message
    assert outcome.ready


async def test_a_refused_prompt_still_writes_the_token_and_prompts_the_other_pods(
    world: HandRegisteredWorld, pods: Pods
) -> None:
    pods.refusing["reader"] = FORBIDDEN
    await world.reconcile()

    assert pods.version("writer") == secret_version(world)
    assert world.memory.prompt_refused == PromptRefusal("reader", FORBIDDEN.detail)


async def test_after_a_refused_prompt_short_tokens_ask_for_patch_on_pods_not_for_labels(
    world: HandRegisteredWorld, pods: Pods
) -> None:
    pods.refusing["reader"] = FORBIDDEN
    sufficient = condition(await world.reconcile(), LIFETIME_SUFFICIENT)

    assert (sufficient["status"], sufficient["reason"]) == ("False", "ShorterThanMountDelay")
    assert "grant it patch on pods here" in sufficient["message"]
    assert "label the pods" not in sufficient["message"]


async def test_a_refusal_again_at_the_next_token_posts_no_event(
    world: HandRegisteredWorld, pods: Pods
) -> None:
    pods.refusing["reader"] = FORBIDDEN
    await world.reconcile()
    world.advance(LIFETIME)
    outcome = await world.reconcile()

    assert (EventType.WARNING, Reason.POD_PROMPT_REFUSED) not in events_of(outcome)


async def test_a_prompt_that_works_again_posts_one_event(
    world: HandRegisteredWorld, pods: Pods
) -> None:
    pods.refusing["reader"] = FORBIDDEN
    await world.reconcile()
    del pods.refusing["reader"]
    world.advance(LIFETIME)
    outcome = await world.reconcile()

    assert (EventType.NORMAL, Reason.PODS_PROMPTED) in events_of(outcome)
    assert world.memory.prompt_refused is None


async def test_a_pod_gone_meanwhile_is_passed_over_quietly(
    world: HandRegisteredWorld, pods: Pods
) -> None:
    pods.refusing["reader"] = GONE
    outcome = await world.reconcile()

    assert [e for e in outcome.events if "Pod" in e.reason] == []
    assert world.memory.prompt_refused is None


async def test_a_prompt_cancelled_under_the_reconciliation_is_an_internal_error_not_a_stop(
    world: HandRegisteredWorld, pods: Pods
) -> None:
    """A CancelledError raised as such would end the resource's loop as if asked to stop."""
    pods.refusing["reader"] = asyncio.CancelledError()
    outcome = await world.reconcile()

    assert condition(outcome, READY)["reason"] == Reason.INTERNAL_ERROR
    assert pods.version("writer") == secret_version(world)


async def test_with_prompting_off_no_pod_is_prompted(
    world: HandRegisteredWorld, pods: Pods
) -> None:
    world.deps = replace(world.deps, pods=None)
    await world.reconcile()

    assert pods.annotations == {}
