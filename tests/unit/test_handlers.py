"""The kopf wiring: what kopf computes and keeps for each MaskinportenClient."""

from __future__ import annotations

import kopf

from maskinporten_operator.runtime import handlers


def test_no_change_handler_is_registered_so_kopf_needs_no_diff_base() -> None:
    """NoDiffBase holds only while nothing reacts to changes through kopf's diffs."""
    registry = kopf.get_default_registry()

    assert handlers.keep_client_supplied is not None
    assert list(registry._changing.get_all_handlers()) == []
    assert [type(h).__name__ for h in registry._spawning.get_all_handlers()] == ["DaemonHandler"]


def test_no_diff_base_sees_no_change_between_two_events() -> None:
    storage = handlers.NoDiffBase()
    body = kopf.Body({"metadata": {"name": "billing", "generation": 2}, "spec": {"clientId": "a"}})

    assert storage.fetch(body=body) == storage.build(body=body) == {}
