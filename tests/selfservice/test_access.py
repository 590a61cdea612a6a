"""Who may call the self-service API: a Maskinporten token from a business-certificate grant,
with the ``idporten:dcr.*`` scope each operation needs, for its own organisation's clients."""

from __future__ import annotations

import httpx
import pytest
from joserfc.jwk import RSAKey

from maskinporten_testbed.selfservice import (
    ADMIN_SCOPES,
    DCR_MODIFY,
    DCR_READ,
    DCR_WRITE,
    AdminClient,
    SelfServiceStandin,
    provision_jwk_admin_client,
)
from maskinporten_testbed.standin import Client, MaskinportenStandin, RegisteredKey

from .helpers import (
    ORG,
    OTHER_ORG,
    SCOPE,
    Api,
    admin_token,
    assert_refused,
    client_model,
    kid_grant,
    public_jwk,
    request_token,
    x5c_grant,
)


async def test_a_request_without_a_bearer_token_is_401(api: Api) -> None:
    api.token = None

    response = await api.call("GET", "clients")

    assert_refused(response, 401, "invalid_token", "bearer")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_token_not_issued_by_maskinporten_is_401(api: Api, keys: list[RSAKey]) -> None:
    forged = kid_grant(api.server.maskinporten, "anyone", keys[0], "forger")  # signed, not ours
    api.token = forged

    response = await api.call("GET", "clients")

    assert_refused(response, 401, "invalid_token", "invalid or expired")


async def test_an_expired_token_is_401(api: Api, standin: MaskinportenStandin) -> None:
    standin.set_clock_offset(standin.registry.default_lifetime + 1)

    response = await api.call("GET", "clients")

    assert_refused(response, 401, "invalid_token")


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        ("GET", "clients", DCR_READ),
        ("GET", "scopes/access/all", DCR_READ),
        ("POST", "clients", DCR_WRITE),
    ],
)
async def test_a_token_without_the_operations_scope_is_403(
    api: Api,
    http: httpx.AsyncClient,
    standin: MaskinportenStandin,
    admin: AdminClient,
    method: str,
    path: str,
    needed: str,
) -> None:
    others = [s for s in (DCR_READ, DCR_WRITE, DCR_MODIFY) if s != needed]
    api.token = await admin_token(http, standin, admin, others)

    response = await api.call(method, path, client_model() if method == "POST" else None)

    assert_refused(response, 403, "insufficient_scope", needed)


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", ""), ("DELETE", ""), ("POST", "/jwks")],
)
async def test_changing_a_client_needs_the_modify_scope(
    api: Api,
    http: httpx.AsyncClient,
    standin: MaskinportenStandin,
    admin: AdminClient,
    method: str,
    path: str,
) -> None:
    client_id = (await api.create())["client_id"]
    api.token = await admin_token(http, standin, admin, [DCR_READ, DCR_WRITE])
    body = {"keys": []} if path else client_model()

    response = await api.call(method, f"clients/{client_id}{path}", body)

    assert_refused(response, 403, "insufficient_scope", DCR_MODIFY)


async def test_a_token_from_an_admin_clients_registered_key_grant_is_accepted(
    api: Api, http: httpx.AsyncClient, standin: MaskinportenStandin, keys: list[RSAKey]
) -> None:
    admin_id = provision_jwk_admin_client(standin, ORG, public_jwk(keys[0], "admin-key"))
    grant = kid_grant(standin, admin_id, keys[0], "admin-key", scope=DCR_READ)
    response = await request_token(http, standin, grant)
    assert response.status_code == 200, response.text
    api.token = response.json()["access_token"]

    listed = await api.call("GET", "clients")

    assert listed.status_code == 200


async def test_a_registered_key_grant_without_the_dcr_scopes_is_403(
    api: Api, http: httpx.AsyncClient, standin: MaskinportenStandin, keys: list[RSAKey]
) -> None:
    key = RegisteredKey(public_jwk(keys[0], "admin-key"))
    standin.register_client(Client("key-admin", ORG, frozenset({SCOPE}), keys=(key,)))
    grant = kid_grant(standin, "key-admin", keys[0], "admin-key", scope=SCOPE)
    response = await request_token(http, standin, grant)
    assert response.status_code == 200, response.text
    api.token = response.json()["access_token"]

    refused = await api.call("GET", "clients")

    assert_refused(refused, 403, "insufficient_scope", DCR_READ)


async def test_a_token_acting_for_another_organisation_is_403(
    api: Api, http: httpx.AsyncClient, standin: MaskinportenStandin, admin: AdminClient
) -> None:
    delegated = frozenset(ADMIN_SCOPES)
    standin.register_client(
        Client(admin.client_id, ORG, delegated, delegations={OTHER_ORG: delegated})
    )
    grant = x5c_grant(standin, admin, ADMIN_SCOPES, consumer_org=OTHER_ORG)
    response = await request_token(http, standin, grant)
    assert response.status_code == 200, response.text
    api.token = response.json()["access_token"]

    refused = await api.call("GET", "clients")

    assert_refused(refused, 403, "access_denied", "another organisation")


async def test_a_client_of_another_organisation_is_not_found(api: Api, other_api: Api) -> None:
    theirs = (await other_api.create())["client_id"]

    responses = [
        await api.call("GET", f"clients/{theirs}"),
        await api.call("PUT", f"clients/{theirs}", client_model()),
        await api.call("DELETE", f"clients/{theirs}"),
        await api.call("GET", f"clients/{theirs}/jwks"),
        await api.call("POST", f"clients/{theirs}/jwks", {"keys": []}),
    ]

    for response in responses:
        assert_refused(response, 404, "not_found", theirs)
    assert (await other_api.call("GET", f"clients/{theirs}")).status_code == 200


async def test_listing_shows_only_the_callers_organisations_clients(
    api: Api, other_api: Api
) -> None:
    ours = (await api.create())["client_id"]
    await other_api.create()

    listed = (await api.call("GET", "clients")).json()

    assert [c["client_id"] for c in listed if c["client_id"] == ours] == [ours]
    assert {c["client_orgno"] for c in listed} == {ORG}


async def test_an_unknown_path_answers_in_the_apis_error_shape(api: Api) -> None:
    response = await api.call("GET", "nothing/here")

    assert_refused(response, 404, "not_found")


async def test_an_unsupported_method_answers_in_the_apis_error_shape(api: Api) -> None:
    response = await api.call("PATCH", "clients")

    assert_refused(response, 405, "invalid_request")


async def test_requests_are_logged_with_organisation_and_outcome_but_no_token(
    api: Api, selfservice: SelfServiceStandin
) -> None:
    selfservice.clear_requests()
    await api.call("GET", "clients")
    api.token = None
    await api.call("GET", "clients")

    records = selfservice.requests()

    assert [(r.method, r.path, r.org, r.status) for r in records] == [
        ("GET", "/api/v1/clients", ORG, 200),
        ("GET", "/api/v1/clients", None, 401),
    ]
