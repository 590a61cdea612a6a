"""The token request itself: form encoding, grant type, and a parseable assertion."""

from __future__ import annotations

import base64
import json

import httpx

from maskinporten_testbed.standin import MaskinportenStandin

from .helpers import GRANT_TYPE, Grants, assert_rejected, post_grant


async def test_json_body_instead_of_form_is_rejected_with_mp_011(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    body = {"grant_type": GRANT_TYPE, "assertion": grants.kid()}

    response = await http.post(standin.token_endpoint, json=body)

    assert_rejected(response, "invalid_request", "MP-011")


async def test_missing_grant_type_is_rejected_with_mp_011(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await http.post(standin.token_endpoint, data={"assertion": grants.kid()})

    assert_rejected(response, "invalid_request", "MP-011")


async def test_other_grant_type_is_rejected_as_unsupported_with_mp_011(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    data = {"grant_type": "client_credentials", "assertion": grants.kid()}

    response = await http.post(standin.token_endpoint, data=data)

    assert_rejected(response, "unsupported_grant_type", "MP-011")


async def test_missing_assertion_is_rejected_with_mp_011(
    standin: MaskinportenStandin, http: httpx.AsyncClient
) -> None:
    response = await http.post(standin.token_endpoint, data={"grant_type": GRANT_TYPE})

    assert_rejected(response, "invalid_request", "MP-011")


async def test_assertion_that_is_not_a_jwt_is_rejected_with_mp_100(
    standin: MaskinportenStandin, http: httpx.AsyncClient
) -> None:
    response = await post_grant(http, standin, "not-a-jwt")

    assert_rejected(response, "invalid_grant", "MP-100")


async def test_jwt_whose_payload_is_not_an_object_is_rejected_with_mp_100(
    standin: MaskinportenStandin, http: httpx.AsyncClient
) -> None:
    def segment(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    assertion = f"{segment({'alg': 'RS256', 'kid': 'k'})}.{segment([1, 2])}.c2ln"

    response = await post_grant(http, standin, assertion)

    assert_rejected(response, "invalid_grant", "MP-100")


async def test_error_responses_are_json_and_not_cached(
    standin: MaskinportenStandin, http: httpx.AsyncClient
) -> None:
    response = await post_grant(http, standin, "not-a-jwt")

    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert set(response.json()) == {"error", "error_description"}
