"""The kopf wiring: what kopf computes and keeps for each MaskinportenClient."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import kopf
from kopf._cogs.structs import diffs

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

    reasons = {handler.reason for handler in registry._changing.get_all_handlers()}
    daemons = registry._spawning.get_all_handlers()
    assert reasons <= {kopf.Reason.DELETE}
    assert [type(h).__name__ for h in daemons] == ["DaemonHandler"]
    assert [h.fn for h in daemons] == [handlers.keep_client_supplied]


def test_no_diff_base_sees_no_change_between_two_events() -> None:
    """What kopf does with the storage on each event: diff the essence fetched from the object
    against the one built from it, then store the new one in the patch it writes."""
    storage = handlers.NoDiffBase()
    first, second = (
        kopf.Body({"metadata": {"name": "billing", "generation": generation}, "spec": spec})
        for generation, spec in ((1, {"clientId": "a"}), (2, {"clientId": "b", "scopes": {}}))
    )
    patch = kopf.Patch()
    storage.store(body=first, patch=patch, essence=storage.build(body=first))

    changes = diffs.diff(storage.fetch(body=second), storage.build(body=second))

    assert changes == ()
    assert patch == {}


def test_a_spec_change_wakes_the_resources_daemon() -> None:
    registry = WakeRegistry()
    wakeup = registry.register("team", "billing", 1, None, None)

    _observe(registry, generation=2)

    assert wakeup.pending


def test_client_events_lose_their_managed_fields() -> None:
    event = _observe(WakeRegistry(), generation=1)

    assert "managedFields" not in event["object"]["metadata"]
