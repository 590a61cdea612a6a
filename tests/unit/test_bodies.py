"""Kept watch bodies share the strings every body repeats."""

from __future__ import annotations

import json

from maskinporten_operator.adapters.bodies import INTERNED_MAX_LENGTH, interned

MESSAGE = "a message no other body holds, " * 3


def parsed(name: str) -> dict[str, object]:
    """A body as the watch parses it: a document of its own, strings of its own."""
    condition = {"type": "Ready", "status": "True", "message": MESSAGE}
    body = {"metadata": {"name": name}, "status": {"conditions": [condition], "count": 1}}
    loaded: dict[str, object] = json.loads(json.dumps(body))
    return loaded


def condition_of(body: dict[str, object]) -> dict[str, str]:
    status = body["status"]
    assert isinstance(status, dict)
    condition: dict[str, str] = status["conditions"][0]
    return condition


def test_an_interned_body_equals_the_parsed_one() -> None:
    body = parsed("billing")

    assert interned(body) == body


def test_keys_and_short_values_are_one_string_for_all_bodies() -> None:
    first, second = (condition_of(interned(parsed(name))) for name in ("billing", "weather"))

    assert [k for k in first] == [k for k in second]
    assert all(a is b for a, b in zip(first, second, strict=True))
    assert first["status"] is second["status"]


def test_long_strings_are_left_as_parsed() -> None:
    assert len(MESSAGE) > INTERNED_MAX_LENGTH
    first, second = (condition_of(interned(parsed(name))) for name in ("billing", "weather"))

    assert first["message"] is not second["message"]
