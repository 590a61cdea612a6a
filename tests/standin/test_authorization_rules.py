"""What an authenticated client may ask for: scopes, resources, delegations, system users."""

from __future__ import annotations

import httpx

from maskinporten_testbed.standin import MaskinportenStandin

from .helpers import CONSENT, OTHER_ORG, SYSTEMUSER, Grants, assert_rejected, post_grant


async def test_grant_without_scope_is_rejected_with_mp_200(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(drop=["scope"]))

    assert_rejected(response, "invalid_scope", "MP-200")


async def test_grant_with_blank_scope_is_rejected_with_mp_200(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(scope="  "))

    assert_rejected(response, "invalid_scope", "MP-200")


async def test_grant_with_a_scope_not_allowed_for_the_client_is_rejected_with_mp_201(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(scope="test:read test:write"))

    assert_rejected(response, "invalid_scope", "MP-201")
    assert "test:write" in response.json()["error_description"]


async def test_grant_with_a_resource_not_allowed_for_the_client_is_rejected_with_mp_011(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(resource=["https://evil.example/"]))

    assert_rejected(response, "invalid_target", "MP-011")


async def test_grant_with_a_resource_that_is_not_a_string_is_rejected_with_mp_011(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(resource={"uri": "x"}))

    assert_rejected(response, "invalid_target", "MP-011")


async def test_consumer_org_without_delegation_is_rejected_with_mp_250(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(consumer_org="111111111"))

    assert_rejected(response, "invalid_scope", "MP-250")


async def test_consumer_org_that_did_not_delegate_the_scope_is_rejected_with_mp_250(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    assertion = grants.kid(consumer_org=OTHER_ORG, scope="test:long")

    response = await post_grant(http, standin, assertion)

    assert_rejected(response, "invalid_scope", "MP-250")


async def test_consumer_org_that_is_not_an_org_number_is_rejected_with_mp_011(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    response = await post_grant(http, standin, grants.kid(consumer_org="0192:987654321"))

    assert_rejected(response, "invalid_request", "MP-011")


async def test_consumer_org_together_with_iss_onbehalfof_is_rejected_with_mp_011(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    assertion = grants.kid(consumer_org=OTHER_ORG, iss_onbehalfof="some-onbehalfof")

    response = await post_grant(http, standin, assertion)

    assert_rejected(response, "invalid_request", "MP-011")


async def test_authorization_details_with_two_parties_are_rejected_with_mp_011(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    assertion = grants.kid(authorization_details=SYSTEMUSER * 2)

    response = await post_grant(http, standin, assertion)

    assert_rejected(response, "invalid_authorization_details", "MP-011")


async def test_authorization_details_of_an_undeclared_type_are_rejected_with_mp_301(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    details = [{**SYSTEMUSER[0], "type": "urn:altinn:resource"}]

    response = await post_grant(http, standin, grants.kid(authorization_details=details))

    assert_rejected(response, "invalid_authorization_details", "MP-301")
    assert "urn:altinn:resource" in response.json()["error_description"]


async def test_a_consent_with_a_system_user_and_consumer_org_is_accepted(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    details = [*SYSTEMUSER, CONSENT]

    response = await post_grant(
        http, standin, grants.kid(authorization_details=details, consumer_org=OTHER_ORG)
    )

    assert response.status_code == 200, response.text


async def test_a_consent_without_from_is_rejected_with_mp_011(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    details = [{"type": "urn:altinn:consent", "id": CONSENT["id"]}]

    response = await post_grant(http, standin, grants.kid(authorization_details=details))

    assert_rejected(response, "invalid_authorization_details", "MP-011")
