"""A client's ``access_token_lifetime``: Maskinporten's default when left out, refused outside
the bounds the API accepts, changed by a PUT, and handed to the token endpoint."""

from __future__ import annotations

import pytest

from maskinporten_testbed.standin import MaskinportenStandin

from .helpers import Api, assert_refused, client_model


async def test_a_client_created_without_a_lifetime_gets_maskinporten_s_default_of_120_s(
    api: Api,
) -> None:
    created = await api.create()

    assert created["access_token_lifetime"] == 120


async def test_a_client_created_with_a_lifetime_shows_it(api: Api) -> None:
    created = await api.create(access_token_lifetime=3600)

    shown = (await api.call("GET", f"clients/{created['client_id']}")).json()
    assert (created["access_token_lifetime"], shown["access_token_lifetime"]) == (3600, 3600)


@pytest.mark.parametrize("lifetime", [0, -1, 7201, 3600.5, "3600", True])
async def test_a_lifetime_outside_1_to_7200_whole_seconds_is_refused(
    api: Api, lifetime: object
) -> None:
    response = await api.call("POST", "clients", client_model(access_token_lifetime=lifetime))

    assert_refused(response, 400, "invalid_client_metadata", "access_token_lifetime", "1", "7200")


async def test_put_changes_the_lifetime(api: Api) -> None:
    client_id = (await api.create(access_token_lifetime=600))["client_id"]

    updated = await api.call(
        "PUT", f"clients/{client_id}", client_model(access_token_lifetime=1800)
    )

    assert updated.status_code == 200, updated.text
    shown = (await api.call("GET", f"clients/{client_id}")).json()
    assert shown["access_token_lifetime"] == 1800


async def test_the_lifetime_reaches_the_token_endpoint_s_client(
    api: Api, standin: MaskinportenStandin
) -> None:
    client_id = (await api.create(access_token_lifetime=900))["client_id"]

    registered = standin.registry.latest(client_id)

    assert registered is not None
    assert registered.access_token_lifetime == 900
