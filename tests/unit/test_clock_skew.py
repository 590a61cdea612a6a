"""A refused token request says when this machine's clock is off from the server's ``Date``:
grants are checked by the server's clock, and its own text rarely says that is the cause."""

from __future__ import annotations

from email.utils import formatdate

import httpx
import pytest

from maskinporten_operator.oauth.authserver import AuthorizationServerClient
from maskinporten_operator.oauth.server_model import TokenRequestError

TOKEN_ENDPOINT = "https://idp.example.net/token"
GRANT = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJjbGllbnQifQ.c2lnbmF0dXJl"
HERE = 1_800_000_000.0
"""This machine's clock: 2027-01-15T08:00:00Z."""
REFUSAL = {"error": "invalid_grant", "error_description": "MP-100: Invalid JWT claim iat"}


async def refusal(server_time: float, *, status: int = 400, date: str | None = None) -> str:
    """The message of the error for a token request answered ``status`` with a ``Date`` of
    ``server_time`` (or the literal ``date``)."""
    headers = {"Date": date if date is not None else formatdate(server_time, usegmt=True)}

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=REFUSAL, headers=headers)

    client = AuthorizationServerClient(
        timeout_seconds=5, wall_clock=lambda: HERE, transport=httpx.MockTransport(handler)
    )
    try:
        with pytest.raises(TokenRequestError) as caught:
            await client.request_token(TOKEN_ENDPOINT, GRANT)
    finally:
        await client.aclose()
    return str(caught.value)


async def test_a_refusal_says_this_machines_clock_is_behind_the_servers_with_both_times() -> None:
    message = await refusal(HERE + 42)

    assert message.startswith("token endpoint https://idp.example.net/token rejected the request")
    assert (
        "this machine's clock is 42 s behind the server's "
        "(here 2027-01-15T08:00:00Z, server 2027-01-15T08:00:42Z)"
    ) in message


async def test_a_clock_ahead_of_the_servers_is_reported_too() -> None:
    message = await refusal(HERE - 3600)

    assert "this machine's clock is 3600 s ahead of the server's" in message


async def test_clocks_within_five_seconds_of_each_other_are_not_mentioned() -> None:
    message = await refusal(HERE + 5)

    assert "clock" not in message
    assert message.endswith("invalid_grant: MP-100: Invalid JWT claim iat")


async def test_a_server_error_says_nothing_about_clocks() -> None:
    message = await refusal(HERE + 600, status=503)

    assert "clock" not in message


async def test_an_unreadable_date_header_is_ignored() -> None:
    message = await refusal(HERE, date="yesterday, around noon")

    assert "clock" not in message
