"""Claims of the grant: names, audience, issuer, times and single use."""

from __future__ import annotations

import httpx

from maskinporten_testbed.standin import MaskinportenStandin

from .helpers import Grants, assert_rejected, post_grant


async def test_grant_with_an_unknown_claim_is_rejected_as_invalid_request_with_mp_011(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(sub="someone"))

    assert_rejected(response, "invalid_request", "MP-011")
    assert "Invalid assertion" in response.json()["error_description"]


async def test_grant_with_audience_equal_to_token_endpoint_is_rejected_with_mp_110(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(aud=standin.token_endpoint))

    assert_rejected(response, "invalid_grant", "MP-110")


async def test_grant_with_audience_as_an_array_is_rejected_with_mp_110(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(aud=[standin.issuer]))

    assert_rejected(response, "invalid_grant", "MP-110")


async def test_grant_with_audience_without_trailing_slash_is_rejected_with_mp_110(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(aud=standin.issuer.rstrip("/")))

    assert_rejected(response, "invalid_grant", "MP-110")


async def test_grant_without_audience_is_rejected_with_mp_110(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(drop=["aud"]))

    assert_rejected(response, "invalid_grant", "MP-110")


async def test_grant_from_an_unknown_client_is_rejected_with_mp_100(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(iss="no-such-client"))

    assert_rejected(response, "invalid_grant", "MP-100")


async def test_grant_without_iss_is_rejected_with_mp_100(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(drop=["iss"]))

    assert_rejected(response, "invalid_grant", "MP-100")


async def test_grant_issued_11_seconds_in_the_future_is_rejected_with_mp_100(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    iat = int(standin.clock.now()) + 11
    response = await post_grant(http, standin, grants.kid(iat=iat, exp=iat + 60))

    assert_rejected(response, "invalid_grant", "MP-100")


async def test_grant_issued_11_seconds_ago_is_rejected_with_mp_100(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    iat = int(standin.clock.now()) - 11
    response = await post_grant(http, standin, grants.kid(iat=iat, exp=iat + 60))

    assert_rejected(response, "invalid_grant", "MP-100")


async def test_grant_issued_10_seconds_in_the_future_is_accepted(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    iat = int(standin.clock.now()) + 10
    response = await post_grant(http, standin, grants.kid(iat=iat, exp=iat + 60))

    assert response.status_code == 200, response.text


async def test_grant_from_a_client_whose_clock_lags_the_server_is_rejected_with_mp_100(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    assertion = grants.kid()
    standin.set_clock_offset(30)

    response = await post_grant(http, standin, assertion)

    assert_rejected(response, "invalid_grant", "MP-100")


async def test_grant_without_iat_is_rejected_with_mp_100(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(drop=["iat"]))

    assert_rejected(response, "invalid_grant", "MP-100")


async def test_grant_living_121_seconds_is_rejected_with_mp_130(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    iat = int(standin.clock.now())
    response = await post_grant(http, standin, grants.kid(iat=iat, exp=iat + 121))

    assert_rejected(response, "invalid_grant", "MP-130")


async def test_grant_living_exactly_120_seconds_is_accepted(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    iat = int(standin.clock.now())
    response = await post_grant(http, standin, grants.kid(iat=iat, exp=iat + 120))

    assert response.status_code == 200, response.text


async def test_grant_expiring_as_it_arrives_is_rejected_with_mp_130(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    now = int(standin.clock.now())
    response = await post_grant(http, standin, grants.kid(iat=now - 5, exp=now))

    assert_rejected(response, "invalid_grant", "MP-130")


async def test_grant_without_jti_is_rejected_with_mp_100(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(drop=["jti"]))

    assert_rejected(response, "invalid_grant", "MP-100")


async def test_reused_grant_is_rejected_with_mp_012(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    assertion = grants.kid()
    first = await post_grant(http, standin, assertion)

    second = await post_grant(http, standin, assertion)

    assert first.status_code == 200, first.text
    assert_rejected(second, "invalid_grant", "MP-012")
    assert "Grant is used before" in second.json()["error_description"]


async def test_new_grant_reusing_a_jti_is_rejected_with_mp_012(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    await post_grant(http, standin, grants.kid(jti="same"))

    response = await post_grant(http, standin, grants.kid(jti="same", scope="test:long"))

    assert_rejected(response, "invalid_grant", "MP-012")
