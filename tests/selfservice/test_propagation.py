"""What is registered through the API reaches the token endpoint after the propagation delay
(Digdir documents 0-2 minutes), keys expire a year after posting, and renewal moves that."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from maskinporten_testbed.selfservice import SelfServiceStandin
from maskinporten_testbed.standin import MaskinportenStandin

from .helpers import (
    OTHER_SCOPE,
    SCOPE,
    YEAR,
    Api,
    client_model,
    kid_grant,
    public_jwk,
    request_token,
)

DELAY = 60.0


@pytest.fixture
def delayed(selfservice: SelfServiceStandin) -> SelfServiceStandin:
    selfservice.set_propagation_delay(DELAY)
    return selfservice


@pytest.fixture
def move_to(standin: MaskinportenStandin, api: Api) -> Any:
    """Move the (frozen) server clock to ``seconds`` after the test began; log in again."""

    async def move(seconds: float) -> None:
        standin.set_clock_offset(seconds)
        await api.log_in()

    return move


class TokenEndpoint:
    def __init__(self, http: httpx.AsyncClient, standin: MaskinportenStandin) -> None:
        self.http, self.standin = http, standin

    async def answer(self, client_id: str, key: RSAKey, kid: str, scope: str = SCOPE) -> str:
        """``ok`` for a token, else the MP code of the refusal."""
        grant = kid_grant(self.standin, client_id, key, kid, scope)
        response = await request_token(self.http, self.standin, grant)
        if response.status_code == 200:
            return "ok"
        return str(response.json()["error_description"]).split(":")[0]


@pytest.fixture
def token_endpoint(http: httpx.AsyncClient, standin: MaskinportenStandin) -> TokenEndpoint:
    return TokenEndpoint(http, standin)


async def test_a_new_client_and_its_key_are_accepted_only_once_the_delay_has_passed(
    api: Api,
    delayed: SelfServiceStandin,
    keys: list[RSAKey],
    token_endpoint: TokenEndpoint,
    move_to: Any,
) -> None:
    client_id = (await api.create())["client_id"]
    await api.post_keys(client_id, public_jwk(keys[0], "k1"))

    at_once = await token_endpoint.answer(client_id, keys[0], "k1")
    await move_to(DELAY - 1)
    just_before = await token_endpoint.answer(client_id, keys[0], "k1")
    await move_to(DELAY)
    after = await token_endpoint.answer(client_id, keys[0], "k1")

    assert (at_once, just_before, after) == ("MP-100", "MP-100", "ok")


async def test_a_key_added_beside_another_is_accepted_only_after_the_delay(
    api: Api,
    delayed: SelfServiceStandin,
    keys: list[RSAKey],
    token_endpoint: TokenEndpoint,
    move_to: Any,
) -> None:
    client_id = (await api.create())["client_id"]
    await api.post_keys(client_id, public_jwk(keys[0], "old"))
    await move_to(DELAY)
    await api.post_keys(client_id, public_jwk(keys[0], "old"), public_jwk(keys[1], "new"))

    await move_to(2 * DELAY - 1)
    before = [
        await token_endpoint.answer(client_id, keys[0], "old"),
        await token_endpoint.answer(client_id, keys[1], "new"),
    ]
    await move_to(2 * DELAY)
    after = await token_endpoint.answer(client_id, keys[1], "new")

    assert before == ["ok", "MP-100"]
    assert after == "ok"


async def test_a_removed_key_is_accepted_until_the_delay_has_passed(
    api: Api,
    delayed: SelfServiceStandin,
    keys: list[RSAKey],
    token_endpoint: TokenEndpoint,
    move_to: Any,
) -> None:
    client_id = (await api.create())["client_id"]
    await api.post_keys(client_id, public_jwk(keys[0], "old"), public_jwk(keys[1], "new"))
    await move_to(DELAY)
    await api.post_keys(client_id, public_jwk(keys[1], "new"))

    await move_to(2 * DELAY - 1)
    before = await token_endpoint.answer(client_id, keys[0], "old")
    await move_to(2 * DELAY)
    after = await token_endpoint.answer(client_id, keys[0], "old")

    assert (before, after) == ("ok", "MP-100")


async def test_the_api_shows_a_change_at_once_while_the_token_endpoint_lags(
    api: Api, delayed: SelfServiceStandin, keys: list[RSAKey], token_endpoint: TokenEndpoint
) -> None:
    client_id = (await api.create())["client_id"]

    await api.post_keys(client_id, public_jwk(keys[0], "k1"))

    shown = (await api.call("GET", f"clients/{client_id}/jwks")).json()
    assert [k["kid"] for k in shown["keys"]] == ["k1"]
    assert await token_endpoint.answer(client_id, keys[0], "k1") == "MP-100"


async def test_a_scope_change_reaches_the_token_endpoint_after_the_delay(
    api: Api,
    delayed: SelfServiceStandin,
    keys: list[RSAKey],
    token_endpoint: TokenEndpoint,
    move_to: Any,
) -> None:
    client_id = (await api.create(scopes=[SCOPE]))["client_id"]
    await api.post_keys(client_id, public_jwk(keys[0], "k1"))
    await move_to(DELAY)
    await api.call("PUT", f"clients/{client_id}", client_model(scopes=[OTHER_SCOPE]))

    await move_to(2 * DELAY - 1)
    before = await token_endpoint.answer(client_id, keys[0], "k1", OTHER_SCOPE)
    await move_to(2 * DELAY)
    after = await token_endpoint.answer(client_id, keys[0], "k1", OTHER_SCOPE)

    assert (before, after) == ("MP-201", "ok")


async def test_a_deleted_client_works_until_the_delay_has_passed(
    api: Api,
    delayed: SelfServiceStandin,
    keys: list[RSAKey],
    token_endpoint: TokenEndpoint,
    move_to: Any,
) -> None:
    client_id = (await api.create())["client_id"]
    await api.post_keys(client_id, public_jwk(keys[0], "k1"))
    await move_to(DELAY)
    await api.call("DELETE", f"clients/{client_id}")

    await move_to(2 * DELAY - 1)
    before = await token_endpoint.answer(client_id, keys[0], "k1")
    await move_to(2 * DELAY)
    after = await token_endpoint.answer(client_id, keys[0], "k1")

    assert (before, after) == ("ok", "MP-100")


async def test_changes_take_effect_in_the_order_they_were_made_when_the_delay_shrinks(
    api: Api,
    delayed: SelfServiceStandin,
    keys: list[RSAKey],
    token_endpoint: TokenEndpoint,
    move_to: Any,
) -> None:
    client_id = (await api.create())["client_id"]
    await api.post_keys(client_id, public_jwk(keys[0], "first"))
    delayed.set_propagation_delay(0)
    await api.post_keys(client_id, public_jwk(keys[1], "second"))

    at_once = await token_endpoint.answer(client_id, keys[1], "second")
    await move_to(DELAY)
    after = [
        await token_endpoint.answer(client_id, keys[0], "first"),
        await token_endpoint.answer(client_id, keys[1], "second"),
    ]

    assert at_once == "MP-100"
    assert after == ["MP-100", "ok"]


async def test_without_a_delay_a_posted_key_is_accepted_at_once(
    api: Api, keys: list[RSAKey], token_endpoint: TokenEndpoint
) -> None:
    client_id = (await api.create())["client_id"]

    await api.post_keys(client_id, public_jwk(keys[0], "k1"))

    assert await token_endpoint.answer(client_id, keys[0], "k1") == "ok"


async def test_a_key_is_refused_one_year_after_it_was_posted(
    api: Api, keys: list[RSAKey], token_endpoint: TokenEndpoint, standin: MaskinportenStandin
) -> None:
    client_id = (await api.create())["client_id"]
    await api.post_keys(client_id, public_jwk(keys[0], "k1"))

    standin.set_clock_offset(YEAR + 1)

    assert await token_endpoint.answer(client_id, keys[0], "k1") == "MP-121"


async def test_a_renewed_key_is_accepted_past_a_year_after_its_first_posting(
    api: Api,
    keys: list[RSAKey],
    token_endpoint: TokenEndpoint,
    standin: MaskinportenStandin,
    move_to: Any,
) -> None:
    client_id = (await api.create())["client_id"]
    await api.post_keys(client_id, public_jwk(keys[0], "k1"))
    await move_to(300 * 24 * 3600)
    await api.post_keys(client_id, public_jwk(keys[0], "k1"))

    standin.set_clock_offset(YEAR + 1)

    assert await token_endpoint.answer(client_id, keys[0], "k1") == "ok"


async def test_a_key_posted_with_the_registration_clock_moved_back_is_refused_at_its_expiry(
    api: Api,
    selfservice: SelfServiceStandin,
    keys: list[RSAKey],
    token_endpoint: TokenEndpoint,
    standin: MaskinportenStandin,
) -> None:
    selfservice.set_registration_clock_offset(-340 * 24 * 3600)
    client_id = (await api.create())["client_id"]
    await api.post_keys(client_id, public_jwk(keys[0], "k1"))
    before = await token_endpoint.answer(client_id, keys[0], "k1")

    standin.set_clock_offset(25 * 24 * 3600 + 1)

    assert (before, await token_endpoint.answer(client_id, keys[0], "k1")) == ("ok", "MP-121")
