"""The rules of token delivery to pods: when pods count as prompted, what a prompt's outcome
leaves remembered, and which outcomes an Event marks. Pure."""

from __future__ import annotations

import pytest

from maskinporten_operator.reasons import EventType, Reason
from maskinporten_operator.reconcile.delivery import (
    Prompt,
    PromptRefusal,
    delivery,
    prompt_events,
    refusal_after,
)
from maskinporten_operator.reconcile.schedule import (
    KUBELET_SYNC,
    PROMPT_REFUSED,
    PROMPTED,
    Delivery,
)

REFUSAL = PromptRefusal("reader", "HTTP 422 Unprocessable Entity: pods here are frozen")
WORKED = Prompt(labelled=2, attempted=True)
REFUSED = Prompt(labelled=2, attempted=True, refusal=REFUSAL)
NOT_TRIED = Prompt(labelled=2)


@pytest.mark.parametrize(
    ("prompt", "refusal", "expected"),
    [
        (Prompt(labelled=2), None, PROMPTED),
        (Prompt(labelled=0), None, KUBELET_SYNC),
        (Prompt(labelled=2), REFUSAL, PROMPT_REFUSED),
    ],
)
def test_pods_count_as_prompted_only_when_labelled_and_the_last_prompt_was_not_refused(
    prompt: Prompt, refusal: PromptRefusal | None, expected: Delivery
) -> None:
    assert delivery(prompt, refusal) is expected


def test_a_prompt_not_tried_keeps_the_refusal_remembered() -> None:
    assert refusal_after(REFUSAL, NOT_TRIED) == REFUSAL


def test_a_prompt_that_worked_forgets_the_refusal() -> None:
    assert refusal_after(REFUSAL, WORKED) is None


def test_the_first_refusal_is_a_warning_naming_the_pod_and_the_servers_reason() -> None:
    [event] = prompt_events(None, REFUSED)

    assert (event.type, event.reason) == (EventType.WARNING, Reason.POD_PROMPT_REFUSED)
    assert "pod reader " in event.message
    assert REFUSAL.detail in event.message


def test_a_refusal_names_how_many_more_pods_were_refused() -> None:
    refused = Prompt(3, True, PromptRefusal("reader", "HTTP 403 Forbidden", others=2))

    [event] = prompt_events(None, refused)

    assert "(and 2 more pod(s))" in event.message


@pytest.mark.parametrize(
    ("previous", "prompt"),
    [(REFUSAL, REFUSED), (None, WORKED), (REFUSAL, NOT_TRIED), (None, NOT_TRIED)],
)
def test_a_prompt_like_the_last_or_none_tried_posts_no_event(
    previous: PromptRefusal | None, prompt: Prompt
) -> None:
    assert prompt_events(previous, prompt) == []


def test_prompting_that_works_again_is_a_normal_event() -> None:
    [event] = prompt_events(REFUSAL, WORKED)

    assert (event.type, event.reason) == (EventType.NORMAL, Reason.PODS_PROMPTED)
