"""Status conditions in the Kubernetes convention."""

from __future__ import annotations

from typing import Any

from maskinporten_operator.reasons import Reason
from maskinporten_operator.reconcile.conditions import (
    LIFETIME_SUFFICIENT,
    READY,
    Condition,
    find,
    render_conditions,
)

EARLIER = "2027-01-15T08:00:00Z"
NOW = "2027-01-15T09:00:00Z"

READY_TRUE = Condition(READY, True, Reason.TOKEN_ISSUED, "token valid until 10:00")
READY_FALSE = Condition(READY, False, Reason.TOKEN_REQUEST_REJECTED, "invalid_grant: MP-124")


def existing(status: str, *, type_: str = READY, reason: str = "Old") -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": "old message",
        "observedGeneration": 1,
        "lastTransitionTime": EARLIER,
    }


def test_new_condition_transitions_now() -> None:
    [ready] = render_conditions([READY_TRUE], [], generation=1, now=NOW)

    assert ready["lastTransitionTime"] == NOW


def test_last_transition_time_is_kept_while_the_status_is_unchanged() -> None:
    [ready] = render_conditions([READY_TRUE], [existing("True")], generation=2, now=NOW)

    assert ready["lastTransitionTime"] == EARLIER


def test_last_transition_time_moves_when_the_status_flips() -> None:
    [ready] = render_conditions([READY_FALSE], [existing("True")], generation=2, now=NOW)

    assert ready["lastTransitionTime"] == NOW


def test_last_transition_time_moves_when_the_status_flips_back() -> None:
    [ready] = render_conditions([READY_TRUE], [existing("False")], generation=2, now=NOW)

    assert ready["lastTransitionTime"] == NOW


def test_reason_and_message_are_updated_while_the_status_is_unchanged() -> None:
    [ready] = render_conditions([READY_TRUE], [existing("True")], generation=2, now=NOW)

    assert (ready["reason"], ready["message"]) == ("TokenIssued", "token valid until 10:00")


def test_observed_generation_is_set_to_the_given_generation() -> None:
    [ready] = render_conditions([READY_TRUE], [existing("True")], generation=7, now=NOW)

    assert ready["observedGeneration"] == 7


def test_status_is_rendered_as_the_strings_true_and_false() -> None:
    rendered = render_conditions(
        [READY_FALSE, Condition(LIFETIME_SUFFICIENT, True, Reason.LONG_ENOUGH, "ok")],
        [],
        generation=1,
        now=NOW,
    )

    assert [c["status"] for c in rendered] == ["False", "True"]


def test_rendered_condition_holds_exactly_the_conventional_fields() -> None:
    [ready] = render_conditions([READY_TRUE], [], generation=1, now=NOW)

    assert ready == {
        "type": READY,
        "status": "True",
        "reason": "TokenIssued",
        "message": "token valid until 10:00",
        "observedGeneration": 1,
        "lastTransitionTime": NOW,
    }


def test_each_condition_keeps_its_own_transition_time() -> None:
    previous = [existing("True"), existing("True", type_=LIFETIME_SUFFICIENT)]
    too_short = Condition(LIFETIME_SUFFICIENT, False, Reason.SHORTER_THAN_MOUNT_DELAY, "120 s")
    desired = [READY_TRUE, too_short]

    ready, lifetime = render_conditions(desired, previous, generation=3, now=NOW)

    assert ready["lastTransitionTime"] == EARLIER
    assert lifetime["lastTransitionTime"] == NOW


def test_conditions_not_desired_are_dropped() -> None:
    previous = [existing("True"), existing("True", type_="Stale")]

    rendered = render_conditions([READY_TRUE], previous, generation=1, now=NOW)

    assert [c["type"] for c in rendered] == [READY]


def test_existing_condition_without_transition_time_gets_now() -> None:
    previous = [{"type": READY, "status": "True"}]

    [ready] = render_conditions([READY_TRUE], previous, generation=1, now=NOW)

    assert ready["lastTransitionTime"] == NOW


def test_find_returns_the_condition_of_a_type_or_an_empty_mapping() -> None:
    conditions = [existing("True"), existing("False", type_=LIFETIME_SUFFICIENT)]

    assert find(conditions, LIFETIME_SUFFICIENT)["status"] == "False"
    assert find(conditions, "Missing") == {}
