"""The kopf wiring: what kopf computes and keeps for each MaskinportenClient."""

from __future__ import annotations

import kopf

from maskinporten_operator.runtime import handlers


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
