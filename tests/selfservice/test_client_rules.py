"""Creating, reading, changing and deleting clients follows the documented client model."""

from __future__ import annotations

import pytest

from maskinporten_testbed.selfservice import SelfServiceStandin
from maskinporten_testbed.standin import Client, MaskinportenStandin

from .helpers import (
    GRANT_TYPE,
    ORG,
    OTHER_SCOPE,
    PUBLIC_SCOPE,
    REQUESTED_SCOPE,
    SCOPE,
    UNKNOWN_SCOPE,
    Api,
    assert_refused,
    client_model,
)


async def test_creating_answers_the_whole_registered_model_with_a_new_client_id(api: Api) -> None:
    created = await api.create(scopes=[SCOPE, PUBLIC_SCOPE])

    assert created["client_id"]
    assert created["client_orgno"] == ORG
    assert created["scopes"] == sorted([SCOPE, PUBLIC_SCOPE])
    assert {k: created[k] for k in client_model()} == client_model(
        scopes=sorted([SCOPE, PUBLIC_SCOPE])
    )
    assert (await api.call("GET", f"clients/{created['client_id']}")).json() == created


async def test_each_create_makes_another_client(api: Api) -> None:
    first, second = await api.create(), await api.create()

    assert first["client_id"] != second["client_id"]


async def test_creating_a_client_of_another_integration_type_is_refused(api: Api) -> None:
    response = await api.call("POST", "clients", client_model(integration_type="idporten"))

    assert_refused(response, 400, "invalid_client_metadata", "integration_type", "maskinporten")


@pytest.mark.parametrize(
    "field",
    [
        "integration_type",
        "client_name",
        "description",
        "scopes",
        "token_endpoint_auth_method",
        "grant_types",
    ],
)
async def test_creating_without_a_required_field_is_refused(api: Api, field: str) -> None:
    model = client_model()
    del model[field]

    response = await api.call("POST", "clients", model)

    assert_refused(response, 400, "invalid_client_metadata", field)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "none"])
async def test_an_auth_method_other_than_private_key_jwt_is_refused(api: Api, method: str) -> None:
    response = await api.call("POST", "clients", client_model(token_endpoint_auth_method=method))

    assert_refused(response, 400, "invalid_client_metadata", "private_key_jwt")


@pytest.mark.parametrize(
    "grant_types",
    [["client_credentials"], [GRANT_TYPE, "refresh_token"], [], GRANT_TYPE],
)
async def test_grant_types_other_than_the_jwt_bearer_grant_are_refused(
    api: Api, grant_types: object
) -> None:
    response = await api.call("POST", "clients", client_model(grant_types=grant_types))

    assert_refused(response, 400, "invalid_client_metadata", "grant_types", GRANT_TYPE)


async def test_an_application_type_other_than_web_is_refused(api: Api) -> None:
    response = await api.call("POST", "clients", client_model(application_type="native"))

    assert_refused(response, 400, "invalid_client_metadata", "application_type")


async def test_scopes_the_organisation_has_no_access_to_are_refused_by_name(api: Api) -> None:
    model = client_model(scopes=[SCOPE, UNKNOWN_SCOPE, REQUESTED_SCOPE])

    response = await api.call("POST", "clients", model)

    assert_refused(response, 400, "invalid_client_metadata", UNKNOWN_SCOPE, REQUESTED_SCOPE, ORG)
    assert SCOPE not in response.json()["error_description"].split(": ", 1)[1]


async def test_a_refused_create_registers_nothing(api: Api) -> None:
    before = (await api.call("GET", "clients")).json()

    await api.call("POST", "clients", client_model(scopes=[UNKNOWN_SCOPE]))

    assert (await api.call("GET", "clients")).json() == before


async def test_a_client_id_chosen_by_the_caller_is_refused(api: Api) -> None:
    response = await api.call("POST", "clients", client_model(client_id="mine"))

    assert_refused(response, 400, "invalid_client_metadata", "client_id")


@pytest.mark.parametrize("field", ["client_name", "description"])
async def test_an_empty_name_or_description_is_refused(api: Api, field: str) -> None:
    response = await api.call("POST", "clients", client_model(**{field: " "}))

    assert_refused(response, 400, "invalid_client_metadata", field, "empty")


@pytest.mark.parametrize("scopes", [SCOPE, [SCOPE, 7], [""], None])
async def test_scopes_that_are_not_an_array_of_names_are_refused(api: Api, scopes: object) -> None:
    response = await api.call("POST", "clients", client_model(scopes=scopes))

    assert_refused(response, 400, "invalid_client_metadata", "scopes")


async def test_a_client_of_another_organisation_number_is_refused(api: Api) -> None:
    response = await api.call("POST", "clients", client_model(client_orgno="987654321"))

    assert_refused(response, 400, "invalid_client_metadata", "client_orgno", ORG)


async def test_unknown_fields_are_refused_by_name(api: Api) -> None:
    response = await api.call("POST", "clients", client_model(jwks={"keys": []}, colour="red"))

    assert_refused(response, 400, "invalid_client_metadata", "colour", "jwks")


async def test_a_body_that_is_not_a_json_object_is_refused(api: Api) -> None:
    response = await api.call("POST", "clients", [client_model()])

    assert_refused(response, 400, "invalid_request", "JSON object")


async def test_a_body_that_is_not_json_is_refused(api: Api) -> None:
    response = await api.call(
        "POST", "clients", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert_refused(response, 400, "invalid_request", "not valid JSON")


async def test_a_body_sent_as_another_content_type_is_refused(api: Api) -> None:
    response = await api.call("POST", "clients", data={"client_name": "x"})

    assert_refused(response, 400, "invalid_request", "Content-Type")


async def test_put_replaces_the_scopes_and_texts(api: Api) -> None:
    client_id = (await api.create(scopes=[SCOPE]))["client_id"]
    model = client_model(scopes=[OTHER_SCOPE], client_name="renamed", description="new")

    updated = await api.call("PUT", f"clients/{client_id}", model)

    assert updated.status_code == 200, updated.text
    shown = (await api.call("GET", f"clients/{client_id}")).json()
    assert (shown["scopes"], shown["client_name"], shown["description"]) == (
        [OTHER_SCOPE],
        "renamed",
        "new",
    )
    assert shown == updated.json()


async def test_integration_type_cannot_be_changed_by_put(
    api: Api, selfservice: SelfServiceStandin
) -> None:
    selfservice.register_client(
        Client("login-client", ORG, frozenset()), integration_type="idporten"
    )
    client_id = (await api.create())["client_id"]

    to_idporten = await api.call(
        "PUT", f"clients/{client_id}", client_model(integration_type="idporten")
    )
    to_maskinporten = await api.call("PUT", "clients/login-client", client_model())

    assert_refused(to_idporten, 400, "invalid_client_metadata", "integration_type", "changed")
    assert_refused(to_maskinporten, 400, "invalid_client_metadata", "integration_type", "changed")
    assert (await api.call("GET", f"clients/{client_id}")).json()["integration_type"] == (
        "maskinporten"
    )


async def test_put_with_another_client_id_in_the_body_is_refused(api: Api) -> None:
    client_id = (await api.create())["client_id"]

    response = await api.call("PUT", f"clients/{client_id}", client_model(client_id="other"))

    assert_refused(response, 400, "invalid_client_metadata", "client_id")


async def test_put_of_an_inaccessible_scope_leaves_the_client_unchanged(api: Api) -> None:
    created = await api.create(scopes=[SCOPE])

    response = await api.call(
        "PUT", f"clients/{created['client_id']}", client_model(scopes=[OTHER_SCOPE, UNKNOWN_SCOPE])
    )

    assert_refused(response, 400, "invalid_client_metadata", UNKNOWN_SCOPE)
    assert (await api.call("GET", f"clients/{created['client_id']}")).json() == created


async def test_what_get_answers_can_be_put_back_unchanged(api: Api) -> None:
    created = await api.create()

    response = await api.call("PUT", f"clients/{created['client_id']}", created)

    assert response.status_code == 200, response.text
    assert response.json()["scopes"] == created["scopes"]


async def test_a_deleted_client_is_gone(api: Api) -> None:
    client_id = (await api.create())["client_id"]

    deleted = await api.call("DELETE", f"clients/{client_id}")

    assert deleted.status_code == 204
    assert_refused(await api.call("GET", f"clients/{client_id}"), 404, "not_found")
    assert client_id not in [c["client_id"] for c in (await api.call("GET", "clients")).json()]


async def test_a_client_registered_by_hand_is_listed_with_its_scopes(
    api: Api, standin: MaskinportenStandin
) -> None:
    standin.register_client(Client("portal-client", ORG, frozenset({SCOPE})))

    shown = (await api.call("GET", "clients/portal-client")).json()

    assert (shown["integration_type"], shown["scopes"]) == ("maskinporten", [SCOPE])
