"""The rules a reconciliation decides by, one table each: pure functions of gathered facts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from maskinporten_operator.ports import (
    ClientRegistration,
    JwksEntry,
    RegisteredClient,
    RegisteredJwks,
)
from maskinporten_operator.reconcile import policies
from maskinporten_operator.reconcile.policies import (
    DAY,
    DIGDIR_PROPAGATION_SECONDS,
    KEY_LIFETIME_SECONDS,
    PROPAGATION_SECONDS,
    RENEW_BEFORE_SECONDS,
)
from maskinporten_operator.reconcile.schedule import MOUNT_DELAY_SECONDS

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("request_value", "handled", "new"),
    [
        (None, None, False),
        (None, "earlier", False),
        ("first", None, True),
        ("again", "again", False),
        ("second", "first", True),
    ],
)
def test_an_annotation_request_is_new_until_handled(
    request_value: str | None, handled: str | None, new: bool
) -> None:
    assert policies.new_request(request_value, handled) is new


@pytest.mark.parametrize(
    ("same_request", "refresh_at", "forced", "reusable"),
    [
        (True, NOW + 1, False, True),
        (True, NOW, False, False),
        (True, NOW - 1, False, False),
        (False, NOW + 60, False, False),
        (True, NOW + 60, True, False),
        (True, None, False, False),
    ],
    ids=["fresh", "refresh-due-now", "refresh-overdue", "asked-differently", "forced", "none"],
)
def test_a_token_is_reused_only_while_fresh_for_the_same_request_and_not_forced(
    same_request: bool, refresh_at: float | None, forced: bool, reusable: bool
) -> None:
    assert (
        policies.token_reusable(
            same_request=same_request, refresh_at=refresh_at, now=NOW, forced=forced
        )
        is reusable
    )


def jwks(kid: str, expires_at: float | None) -> RegisteredJwks:
    return RegisteredJwks((JwksEntry(kid, expires_at, {"kid": kid}),))


@pytest.mark.parametrize(
    ("registered", "kid", "expected"),
    [
        (jwks("k1", NOW + KEY_LIFETIME_SECONDS), "k1", NOW),
        (jwks("k1", NOW + KEY_LIFETIME_SECONDS), "k2", None),
        (jwks("k1", None), "k1", None),
    ],
    ids=["from-its-expiry", "not-registered", "no-expiry-given"],
)
def test_a_key_was_registered_a_key_lifetime_before_it_expires(
    registered: RegisteredJwks, kid: str, expected: float | None
) -> None:
    assert policies.registered_at(registered, kid) == expected


@pytest.mark.parametrize(
    ("expires_at", "due"),
    [
        (None, False),
        (NOW + RENEW_BEFORE_SECONDS + 1, False),
        (NOW + RENEW_BEFORE_SECONDS, True),
        (NOW - 1, True),
    ],
    ids=["no-expiry", "just-outside-window", "window-starts", "expired"],
)
def test_a_registered_key_is_renewed_within_the_window_before_it_expires(
    expires_at: float | None, due: bool
) -> None:
    assert policies.renewal_due(expires_at, NOW) is due


@pytest.mark.parametrize(
    ("since", "due"),
    [
        (None, False),
        (NOW - 30 * DAY + 1, False),
        (NOW - 30 * DAY, True),
        (NOW - 400 * DAY, True),
    ],
    ids=["unknown-start", "a-second-early", "on-the-day", "long-past"],
)
def test_rotation_is_due_once_the_rotation_period_has_passed(
    since: float | None, due: bool
) -> None:
    assert policies.rotation_due(since=since, rotation_days=30, now=NOW) is due


@pytest.mark.parametrize(
    ("accepted", "registered", "propagating"),
    [
        (False, NOW - 10, True),
        (False, NOW - PROPAGATION_SECONDS + 1, True),
        (False, NOW - PROPAGATION_SECONDS, False),
        (True, NOW - 10, False),
        (False, None, False),
    ],
    ids=["just-registered", "window-ends", "window-over", "accepted-already", "unknown"],
)
def test_a_refusal_is_propagation_only_just_after_an_unaccepted_key_was_registered(
    accepted: bool, registered: float | None, propagating: bool
) -> None:
    assert policies.propagating(accepted=accepted, registered=registered, now=NOW) is propagating


@pytest.mark.parametrize(
    ("registered", "overdue"),
    [
        (None, None),
        (NOW - DIGDIR_PROPAGATION_SECONDS, None),
        (NOW - DIGDIR_PROPAGATION_SECONDS - 30, 30.0),
    ],
    ids=["unknown", "window-just-over", "thirty-seconds-past"],
)
def test_a_pending_key_is_overdue_for_the_time_past_digdirs_window(
    registered: float | None, overdue: float | None
) -> None:
    assert policies.overdue_for(registered, NOW) == overdue


@pytest.mark.parametrize(
    ("mounted", "after"),
    [(False, NOW + 600), (True, NOW + 600 + MOUNT_DELAY_SECONDS)],
    ids=["tokens-only", "private-jwk-mounted"],
)
def test_a_replaced_key_retires_after_its_tokens_and_the_mount_delay_when_mounted(
    mounted: bool, after: float
) -> None:
    assert policies.retire_after(now=NOW, token_lifetime=600, client_jwk_mounted=mounted) == after


CLIENT = RegisteredClient(
    "c1", "team/weather", "ours", "maskinporten", ("b:read", "a:read"), access_token_lifetime=3600
)


@pytest.mark.parametrize(
    ("wanted", "differs"),
    [
        (ClientRegistration("team/weather", "ours", ("a:read", "b:read"), 3600), False),
        (ClientRegistration("team/weather", "ours", ("a:read",), 3600), True),
        (ClientRegistration("renamed", "ours", ("a:read", "b:read"), 3600), True),
        (ClientRegistration("team/weather", "theirs", ("a:read", "b:read"), 3600), True),
        (ClientRegistration("team/weather", "ours", ("a:read", "b:read"), 900), True),
        (ClientRegistration("team/weather", "ours", ("a:read", "b:read")), False),
    ],
    ids=[
        "same-scopes-other-order",
        "scope-removed",
        "name-changed",
        "description-changed",
        "lifetime-changed",
        "lifetime-unsaid",
    ],
)
def test_a_client_differs_from_the_spec_by_its_scopes_name_description_or_lifetime(
    wanted: ClientRegistration, differs: bool
) -> None:
    assert policies.client_differs(CLIENT, wanted) is differs


def test_a_client_whose_lifetime_digdir_does_not_show_does_not_differ_by_it() -> None:
    shown_without = replace(CLIENT, access_token_lifetime=None)

    assert not policies.client_differs(
        shown_without, ClientRegistration("team/weather", "ours", ("a:read", "b:read"), 3600)
    )
