"""Altinn's token exchange: a valid Maskinporten token in, an Altinn token out."""

from __future__ import annotations

import httpx

from maskinporten_testbed.standin import MaskinportenStandin

from .helpers import Grants, post_grant


async def test_a_valid_maskinporten_token_is_exchanged_for_an_altinn_token(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    token = (await post_grant(http, standin, grants.kid())).json()["access_token"]

    response = await http.get(
        standin.altinn_exchange_url, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200
    assert response.text.count(".") == 2


async def test_an_unknown_token_is_refused_by_the_exchange(
    standin: MaskinportenStandin, http: httpx.AsyncClient
) -> None:
    response = await http.get(
        standin.altinn_exchange_url, headers={"Authorization": "Bearer not.a.token"}
    )

    assert response.status_code == 401
