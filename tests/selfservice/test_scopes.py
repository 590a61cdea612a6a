"""``GET /scopes/access/all``: the scopes the organisation may put on a client."""

from __future__ import annotations

from maskinporten_testbed.selfservice import SelfServiceStandin

from .helpers import (
    ORG,
    OTHER_SCOPE,
    PUBLIC_SCOPE,
    REQUESTED_SCOPE,
    SCOPE,
    Api,
    assert_refused,
)


async def test_the_organisations_scope_access_is_listed_with_its_state(api: Api) -> None:
    response = await api.call("GET", "scopes/access/all")

    assert response.status_code == 200
    listed = {entry["scope"]: entry for entry in response.json()}
    assert set(listed) == {SCOPE, OTHER_SCOPE, REQUESTED_SCOPE}
    assert listed[SCOPE]["state"] == "APPROVED"
    assert listed[REQUESTED_SCOPE]["state"] == "REQUESTED"
    assert {entry["consumer_orgno"] for entry in listed.values()} == {ORG}


async def test_accessible_for_all_adds_the_public_scopes(api: Api) -> None:
    response = await api.call("GET", "scopes/access/all", params={"accessible_for_all": "true"})

    public = [entry for entry in response.json() if entry["accessible_for_all"]]
    assert [(entry["scope"], entry["state"]) for entry in public] == [(PUBLIC_SCOPE, "APPROVED")]


async def test_another_organisation_sees_only_its_own_access(other_api: Api) -> None:
    response = await other_api.call("GET", "scopes/access/all")

    assert [entry["scope"] for entry in response.json()] == [SCOPE]


async def test_a_public_scope_may_be_put_on_a_client(api: Api) -> None:
    created = await api.create(scopes=[PUBLIC_SCOPE])

    assert created["scopes"] == [PUBLIC_SCOPE]


async def test_access_granted_later_makes_the_scope_usable(
    api: Api, selfservice: SelfServiceStandin
) -> None:
    selfservice.grant_scope_access(ORG, "late:scope")

    created = await api.create(scopes=["late:scope"])

    assert created["scopes"] == ["late:scope"]


async def test_an_accessible_for_all_value_other_than_true_or_false_is_refused(api: Api) -> None:
    response = await api.call("GET", "scopes/access/all", params={"accessible_for_all": "yes"})

    assert_refused(response, 400, "invalid_request", "accessible_for_all")
