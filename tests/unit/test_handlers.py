"""The kopf wiring: what kopf computes and keeps for each MaskinportenClient."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import kopf

from maskinporten_operator.runtime import handlers
from maskinporten_operator.runtime.wakeups import WakeRegistry


def _observe(registry: WakeRegistry, generation: int) -> dict[str, Any]:
    """One watch event of team/billing at ``generation``; the raw event kopf passed on."""
    meta = {"name": "billing", "namespace": "team", "generation": generation}
    event: dict[str, Any] = {
        "type": "MODIFIED",
        "object": {"metadata": {**meta, "managedFields": [{"manager": "kubectl-client-side"}]}},
    }
    memo = cast(handlers.OperatorMemo, SimpleNamespace(wakeups=registry))
    asyncio.run(handlers.observe_client(event=cast(kopf.RawEvent, event), memo=memo))
    return event


def test_only_deletion_handlers_are_registered_so_kopf_needs_no_diff_base() -> None:
    """NoDiffBase holds only while nothing reacts to changes through kopf's diffs (a deletion
    is detected from the deletion timestamp)."""
    registry = kopf.get_default_registry()

    assert handlers.keep_client_supplied is not None
    reasons = {handler.reason for handler in registry._changing.get_all_handlers()}
    assert reasons <= {kopf.Reason.DELETE}
    assert [type(h).__name__ for h in registry._spawning.get_all_handlers()] == ["DaemonHandler"]


def test_no_diff_base_sees_no_change_between_two_events() -> None:
    storage = handlers.NoDiffBase()
    body = kopf.Body({"metadata": {"name": "billing", "generation": 2}, "spec": {"clientId": "a"}})

    assert storage.fetch(body=body) == storage.build(body=body) == {}


def test_a_spec_change_wakes_the_resources_daemon() -> None:
    registry = WakeRegistry()
    wakeup = registry.register("team", "billing", 1, None, None)

    _observe(registry, generation=2)

    assert wakeup.pending


def test_client_events_lose_their_managed_fields() -> None:
    event = _observe(WakeRegistry(), generation=1)

    assert "managedFields" not in event["object"]["metadata"]
