"""How a request to a server fails: the same rules for the authorization server and the
self-service API."""

from __future__ import annotations

import pytest

from maskinporten_operator.oauth.failures import copy_for_waiter, failure_summary, is_rejection
from maskinporten_operator.oauth.server_model import TokenRequestError
from maskinporten_operator.ports import SelfServiceRejected
from maskinporten_operator.reasons import Reason


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 499])
def test_a_client_error_is_a_rejection(status: int) -> None:
    assert is_rejection(status)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_too_many_requests_and_server_errors_are_not_rejections(status: int) -> None:
    assert not is_rejection(status)


def test_the_summary_names_the_request_the_status_and_the_servers_error() -> None:
    summary = failure_summary("token endpoint T", 400, "invalid_grant", "MP-100: unknown kid")

    assert (
        summary
        == "token endpoint T rejected the request (HTTP 400) invalid_grant: MP-100: unknown kid"
    )


def test_the_summary_of_a_server_error_without_a_body_says_it_failed() -> None:
    assert failure_summary("GET /clients", 503, None, None) == "GET /clients failed (HTTP 503)"


def test_a_copy_for_a_waiter_is_another_exception_with_the_same_type_message_and_fields() -> None:
    error = SelfServiceRejected(
        "refused", reason=Reason.SELF_SERVICE_REJECTED, status=400, error="e", description="d"
    )

    copy = copy_for_waiter(error)

    assert copy is not error
    assert type(copy) is SelfServiceRejected
    assert (str(copy), copy.reason, copy.status, copy.error, copy.description) == (
        "refused",
        Reason.SELF_SERVICE_REJECTED,
        400,
        "e",
        "d",
    )


def test_a_copy_for_a_waiter_does_not_carry_the_originals_traceback() -> None:
    try:
        raise TokenRequestError("unreachable", reason=Reason.SERVER_UNREACHABLE)
    except TokenRequestError as raised:
        error = raised

    assert error.__traceback__ is not None
    assert copy_for_waiter(error).__traceback__ is None
