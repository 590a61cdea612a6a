"""Waking a resource's loop early: on changes that matter, for live resources only."""

from __future__ import annotations

import asyncio

import pytest

from maskinporten_operator.api import label_value
from maskinporten_operator.runtime.wakeups import WakeRegistry, Wakeup


def woken(registry: WakeRegistry, namespace: str, name: str, *facts: object) -> bool:
    wakeup = registry.register(namespace, name, 1, None)
    registry.wake_on_change(namespace, name, *facts)
    return wakeup.pending


def test_a_new_generation_wakes_the_loop() -> None:
    assert woken(WakeRegistry(), "team", "weather", 2, None)


def test_the_facts_the_loop_started_with_do_not_wake_it() -> None:
    assert not woken(WakeRegistry(), "team", "weather", 1, None)


def test_a_new_force_refresh_value_wakes_the_loop() -> None:
    assert woken(WakeRegistry(), "team", "weather", 1, "1764000000")


def test_events_after_a_loop_stopped_leave_nothing_behind() -> None:
    registry = WakeRegistry()
    for index in range(100):
        name = f"client-{index}" + "-with-a-name-longer-than-a-label-value-may-be" * (index % 2)
        wakeup = registry.register("team", name, 1, None)
        registry.unregister("team", name, wakeup)
        registry.wake_on_change("team", name, 2, None)

    assert len(registry) == 0


def test_a_recreated_resource_with_the_same_name_is_woken() -> None:
    registry = WakeRegistry()
    first = registry.register("team", "weather", 1, None)
    registry.unregister("team", "weather", first)
    registry.wake_on_change("team", "weather", 2, None)

    assert woken(registry, "team", "weather", 2, None)


def test_a_long_name_is_woken_by_its_label_value() -> None:
    registry = WakeRegistry()
    name = "weather-" + "x" * 70
    wakeup = registry.register("team", name, 1, None)

    registry.wake("team", label_value(name))

    assert wakeup.pending


async def waited(wakeup: Wakeup, seconds: float) -> float:
    """How long ``wakeup.wait(seconds)`` lasted, in the loop's (virtual) time."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    await wakeup.wait(seconds)
    return loop.time() - started


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_a_wait_nothing_wakes_lasts_its_seconds() -> None:
    assert await waited(Wakeup(), 60.0) == pytest.approx(60.0)


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_a_wake_up_during_a_wait_ends_it() -> None:
    wakeup = Wakeup()
    asyncio.get_running_loop().call_later(5.0, wakeup.set)

    assert await waited(wakeup, 60.0) == pytest.approx(5.0)
    assert not wakeup.pending


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_a_wake_up_before_a_wait_ends_it_at_once() -> None:
    wakeup = Wakeup()
    wakeup.set()

    assert await waited(wakeup, 60.0) == 0.0
    assert not wakeup.pending
