"""Two nodes never run at once on a machine: the second waits for the first to stop."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from maskinporten_testbed.node.cluster import one_node_at_a_time
from maskinporten_testbed.polling import eventually


def test_a_second_node_waits_until_the_first_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MASKINPORTEN_TESTBED_CACHE", str(tmp_path))
    second_running = threading.Event()

    def second_node() -> None:
        with one_node_at_a_time():
            second_running.set()

    with one_node_at_a_time():
        second = threading.Thread(target=second_node)
        second.start()
        eventually(lambda: "waiting for it" in capsys.readouterr().err, what="the wait")
        assert not second_running.is_set()
    second.join(timeout=30)
    assert second_running.is_set()
