"""The kopf wiring: what kopf computes and keeps for each MaskinportenClient, and on which it
puts its finalizer."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import kopf
import pytest
from kopf._cogs.structs import diffs

from maskinporten_operator.runtime import handlers
from maskinporten_operator.runtime.supervisor import Supervisor, Watched
from maskinporten_operator.runtime.wakeups import WakeRegistry

MANAGED = {"scopes": {"consumes": [{"name": "skatteetaten:mva"}]}}


async def _no_loop(watched: Watched) -> None:
    """Loops are the supervisor's tests' business."""


def _observe(registry: WakeRegistry, generation: int) -> dict[str, Any]:
    """One watch event of team/billing at ``generation``; the raw event kopf passed on."""
    meta = {"name": "billing", "namespace": "team", "uid": "u", "generation": generation}
    event: dict[str, Any] = {
        "type": "MODIFIED",
        "object": {"metadata": {**meta, "managedFields": [{"manager": "kubectl-client-side"}]}},
    }
    memo = cast(
        handlers.OperatorMemo,
        SimpleNamespace(wakeups=registry, supervisor=Supervisor(_no_loop, leading=False)),
    )
    asyncio.run(handlers.observe_client(event=cast(kopf.RawEvent, event), memo=memo))
    return event


def test_only_deletion_handlers_are_registered_so_kopf_needs_no_diff_base() -> None:
    """NoDiffBase holds only while nothing reacts to changes through kopf's diffs (a deletion
    is detected from the deletion timestamp)."""
    registry = kopf.get_default_registry()

    reasons = {handler.reason for handler in registry._changing.get_all_handlers()}
    assert reasons <= {kopf.Reason.DELETE}


def test_kopf_runs_no_daemon_whose_finalizer_every_resource_would_carry() -> None:
    assert not kopf.get_default_registry()._spawning.get_all_handlers()


def test_the_deletion_handler_matches_only_clients_deleted_at_digdir() -> None:
    (handler,) = kopf.get_default_registry()._changing.get_all_handlers()

    assert handler.fn is handlers.delete_managed_client
    assert handler.when is handlers.deleted_at_digdir
    assert handler.requires_finalizer


@pytest.mark.parametrize(
    ("spec", "finalizer"),
    [
        (MANAGED, True),
        ({**MANAGED, "registration": {"deletionPolicy": "Delete"}}, True),
        ({**MANAGED, "registration": {"deletionPolicy": "Retain"}}, False),
        ({**MANAGED, "clientId": "c", "registration": {"adopt": True}}, False),
        ({**MANAGED, "clientId": "c"}, False),
        ({"scopes": "not a list"}, False),
    ],
    ids=["managed", "managed-delete", "managed-retain", "adopted", "own-client", "invalid"],
)
def test_only_managed_clients_with_deletion_policy_delete_get_a_finalizer(
    spec: dict[str, Any], finalizer: bool
) -> None:
    assert handlers.deleted_at_digdir(spec=cast(kopf.Spec, spec)) is finalizer


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


def test_a_spec_change_wakes_the_resources_loop() -> None:
    registry = WakeRegistry()
    wakeup = registry.register("team", "billing", 1, None, None)

    _observe(registry, generation=2)

    assert wakeup.pending


def test_client_events_lose_their_managed_fields() -> None:
    event = _observe(WakeRegistry(), generation=1)

    assert "managedFields" not in event["object"]["metadata"]


def test_a_client_event_reaches_the_supervisor() -> None:
    registry = WakeRegistry()
    supervisor = Supervisor(_no_loop, leading=False)
    event = {"type": "ADDED", "object": {"metadata": {"name": "b", "namespace": "t", "uid": "u"}}}
    memo = cast(handlers.OperatorMemo, SimpleNamespace(wakeups=registry, supervisor=supervisor))

    asyncio.run(handlers.observe_client(event=cast(kopf.RawEvent, event), memo=memo))

    assert supervisor.known == 1
