"""The list-then-watch's retries: a refusal is logged with what to do, and retried after pauses
that double up to a minute (no thread, no real sleep: the loop runs on the test's thread)."""

from __future__ import annotations

from typing import Any, NoReturn

import kubernetes
import pytest

from maskinporten_operator.adapters import listwatch
from maskinporten_operator.adapters.listwatch import Listing, ListWatch


def refused_lists(count: int, status: int = 403) -> tuple[ListWatch, list[float]]:
    """A watch whose list is refused ``count`` times before it is stopped; and its pauses."""
    refusals: list[int] = []

    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        refusals.append(status)
        if len(refusals) >= count:
            watch.stop()
        raise kubernetes.client.ApiException(status=status)

    listing = Listing("Pod", refuse, refuse, "label", when_refused="grant list on pods")
    watch = ListWatch(listing, ("team",), lambda *args: None, lambda *args: None)
    return watch, []


def test_a_refused_list_is_retried_after_pauses_that_double_up_to_a_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watch, pauses = refused_lists(7)
    monkeypatch.setattr(listwatch.time, "sleep", pauses.append)
    watch._watch_forever("team")

    assert pauses == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


def test_a_failure_other_than_a_refusal_is_retried_after_a_short_pause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watch, pauses = refused_lists(3, status=500)
    monkeypatch.setattr(listwatch.time, "sleep", pauses.append)
    watch._watch_forever("team")

    assert pauses == [2.0, 2.0, 2.0]


def test_a_refusal_is_logged_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    watch, pauses = refused_lists(1)
    monkeypatch.setattr(listwatch.time, "sleep", pauses.append)
    watch._watch_forever("team")

    assert caplog.messages == ["watching Pods failed: HTTP 403 (grant list on pods)"]
