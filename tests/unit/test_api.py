"""The MaskinportenClient spec: defaults, patterns, and messages that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from maskinporten_operator.api import (
    DeletionPolicy,
    InvalidSpecError,
    KeySource,
    label_value,
    parse_spec,
)

NAME = "billing"


def spec(*scopes: str, **fields: Any) -> dict[str, Any]:
    return {
        "clientId": "0b5b5d8c-5f1a-4a7e-9d8a-1f2e3d4c5b6a",
        "scopes": {"consumes": [{"name": scope} for scope in scopes or ("digdir:dialogporten",)]},
        **fields,
    }


def rejection(raw: object) -> str:
    with pytest.raises(InvalidSpecError) as caught:
        parse_spec(raw)
    return str(caught.value)


# --- defaults -----------------------------------------------------------------------------------


def test_workload_secret_name_is_derived_from_the_resource_name() -> None:
    assert parse_spec(spec()).workload_secret_name(NAME) == "billing-maskinporten"


def test_key_secret_name_is_derived_from_the_resource_name() -> None:
    assert parse_spec(spec()).key_secret_name(NAME) == "billing-maskinporten-key"


def test_given_secret_names_are_used() -> None:
    parsed = parse_spec(spec(secretName="tokens", key={"secretName": "my-key"}))

    assert parsed.workload_secret_name(NAME) == "tokens"
    assert parsed.key_secret_name(NAME) == "my-key"


def test_secret_names_left_to_their_defaults_are_accepted() -> None:
    parsed = parse_spec(spec())

    assert parsed.workload_secret_name(NAME) != parsed.key_secret_name(NAME)


def test_workload_secret_named_like_the_key_secret_is_refused() -> None:
    message = rejection(spec(secretName="shared", key={"secretName": "shared"}))

    assert message.startswith("secretName and key.secretName must differ")
    assert "give the workload Secret or the key Secret another name" in message


def test_key_deletion_policy_delete_is_accepted_for_a_generated_key() -> None:
    parsed = parse_spec(spec(key={"deletionPolicy": "Delete"}))

    assert parsed.key.deletion_policy is DeletionPolicy.DELETE


def test_key_deletion_policy_delete_is_refused_for_an_existing_key() -> None:
    message = rejection(spec(key={"source": "Existing", "deletionPolicy": "Delete"}))

    assert message.startswith(
        "key.deletionPolicy Delete applies only to keys the operator generated"
    )
    assert "leave out key.deletionPolicy (Retain)" in message


def test_key_is_generated_and_retained_by_default() -> None:
    key = parse_spec(spec()).key

    assert key.source is KeySource.GENERATED
    assert key.deletion_policy is DeletionPolicy.RETAIN
    assert (key.secret_key, key.key_id) == (None, None)


def test_optional_fields_default_to_unset() -> None:
    parsed = parse_spec(spec())

    assert (parsed.resource, parsed.consumer_org, parsed.issuer) == (None, None, None)
    assert parsed.include_client_jwk is False
    assert parsed.refresh.at_lifetime_percent is None
    assert parsed.refresh.before_expiry_seconds is None


def test_camel_case_fields_are_read() -> None:
    parsed = parse_spec(
        spec(
            consumerOrg="987654321",
            includeClientJwk=True,
            key={
                "source": "Existing",
                "secretKey": "jwk",
                "keyId": "k-1",
            },
            refresh={"atLifetimePercent": 80, "beforeExpirySeconds": 600},
        )
    )

    assert parsed.consumer_org == "987654321"
    assert parsed.include_client_jwk is True
    assert parsed.key.source is KeySource.EXISTING
    assert (parsed.key.secret_key, parsed.key.key_id) == ("jwk", "k-1")
    assert (parsed.refresh.at_lifetime_percent, parsed.refresh.before_expiry_seconds) == (80, 600)


# --- scopes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scope",
    [
        "digdir:dialogporten",
        "altinn:serviceowner/instances.read",
        "nav:aareg/v1/arbeidsforhold",
        "skatteetaten:mvameldingvalidering",
        "test:read",
        "my-org.sub_unit:api:v2",
    ],
)
def test_scope_of_prefix_colon_name_is_accepted(scope: str) -> None:
    assert parse_spec(spec(scope)).scope_names == (scope,)


@pytest.mark.parametrize("scope", ["dialogporten", ":read", "Digdir:read", "digdir:", "-x:read"])
def test_scope_not_named_prefix_colon_name_is_rejected_for_maskinporten(scope: str) -> None:
    message = rejection(spec(scope))

    assert message.startswith("Maskinporten scopes are named prefix:name")


@pytest.mark.parametrize("scope", ["api1", "profile", "weather.read", "api://weather/.default"])
def test_scope_named_as_another_server_names_it_is_accepted_for_client_credentials(
    scope: str,
) -> None:
    assert parse_spec(spec(scope, grantType="ClientCredentials")).scope_names == (scope,)


@pytest.mark.parametrize("grant_type", ["JwtBearer", "ClientCredentials"])
@pytest.mark.parametrize("scope", ["digdir:has space", 'a"b', "a\\b", "", "tab\there"])
def test_scope_that_is_no_oauth_scope_token_is_rejected(scope: str, grant_type: str) -> None:
    message = rejection(spec(scope, grantType=grant_type))

    assert message.startswith("spec.scopes.consumes.0.name: String should match pattern")


def test_scope_names_keep_the_order_of_scopes_consumes() -> None:
    assert parse_spec(spec("b:two", "a:one", "c:three")).scope_names == (
        "b:two",
        "a:one",
        "c:three",
    )


def test_scope_listed_twice_is_refused_naming_it() -> None:
    message = rejection(spec("b:two", "a:one", "b:two"))

    assert message == "spec.scopes.consumes: b:two listed more than once: list each scope once"


def test_at_least_one_scope_is_required() -> None:
    message = rejection({"clientId": "c", "scopes": {"consumes": []}})

    assert message.startswith("spec.scopes.consumes: List should have at least 1 item")


def test_scopes_are_required() -> None:
    assert rejection({"clientId": "c"}) == "spec.scopes: Field required"


# --- organisation number ------------------------------------------------------------------------


def test_nine_digit_consumer_org_is_accepted() -> None:
    assert parse_spec(spec(consumerOrg="987654321")).consumer_org == "987654321"


@pytest.mark.parametrize(
    "org", ["98765432", "9876543210", "98765432x", "987 654 321", "0192:987654321"]
)
def test_consumer_org_that_is_not_nine_digits_is_rejected(org: str) -> None:
    assert rejection(spec(consumerOrg=org)) == (
        "spec.consumerOrg: String should match pattern '^[0-9]{9}$'"
    )


# --- messages -----------------------------------------------------------------------------------


def test_message_names_the_field_path_of_the_bad_scope() -> None:
    message = rejection(spec("a:ok", "a:ok", "NOT A SCOPE"))

    assert message.startswith("spec.scopes.consumes.2.name:")


def test_message_names_nested_fields_by_their_manifest_names() -> None:
    message = rejection(spec(key={"keyId": "has space"}, refresh={"atLifetimePercent": 99}))

    assert "spec.key.keyId:" in message
    assert "spec.refresh.atLifetimePercent: Input should be less than or equal to 90" in message


def test_every_problem_is_reported_joined_by_semicolons() -> None:
    message = rejection(spec("b d", consumerOrg="1", key={"source": "Sideways"}))

    assert message.split("; ") == [
        "spec.scopes.consumes.0.name: String should match pattern '^[!#-\\[\\]-~]+$'",
        "spec.consumerOrg: String should match pattern '^[0-9]{9}$'",
        "spec.key.source: Input should be 'Generated' or 'Existing'",
    ]


def test_unknown_fields_are_rejected_by_path() -> None:
    message = rejection(spec(scope="digdir:dialogporten"))

    assert message == "spec.scope: Extra inputs are not permitted"


@pytest.mark.parametrize(
    "raw",
    [
        spec("SECRET-VALUE-1:x y"),
        spec(consumerOrg="SECRET-VALUE-1"),
        spec(key={"source": "SECRET-VALUE-1"}),
        spec(key={"keyId": "SECRET VALUE-1"}),
        spec(refresh={"atLifetimePercent": "SECRET-VALUE-1"}),
        spec(includeClientJwk="SECRET-VALUE-1"),
        spec(extra="SECRET-VALUE-1"),
        {"clientId": "", "scopes": "SECRET-VALUE-1"},
    ],
)
def test_message_does_not_echo_the_input_value(raw: dict[str, Any]) -> None:
    message = rejection(raw)

    assert "SECRET" not in message
    assert "VALUE-1" not in message


def test_spec_that_is_not_an_object_is_rejected() -> None:
    assert "valid dictionary" in rejection(["digdir:dialogporten"])


def _spec_with(**extra: object) -> dict[str, object]:
    return {
        "clientId": "c",
        "scopes": {"consumes": [{"name": "a:read"}, {"name": "b:write"}]},
        **extra,
    }


def test_one_token_for_all_scopes_is_requested_by_default() -> None:
    requests = parse_spec(_spec_with(resource="https://api.example/")).token_requests()

    assert [(r.name, r.scopes, r.resource) for r in requests] == [
        ("", ("a:read", "b:write"), "https://api.example/")
    ]


def test_each_tokens_entry_is_requested_on_its_own() -> None:
    spec = _spec_with(
        tokens=[
            {"name": "reader", "scopes": ["a:read"]},
            {"name": "writer", "scopes": ["b:write"], "resource": "https://b.example/"},
        ]
    )

    requests = parse_spec(spec).token_requests()

    assert [(r.name, r.scopes, r.resource) for r in requests] == [
        ("reader", ("a:read",), None),
        ("writer", ("b:write",), "https://b.example/"),
    ]


def test_resources_are_requested_as_a_list() -> None:
    spec = _spec_with(resources=["https://a.example/", "https://b.example/"])

    (request,) = parse_spec(spec).token_requests()

    assert request.resource == ("https://a.example/", "https://b.example/")


def test_resource_and_resources_together_are_rejected() -> None:
    with pytest.raises(InvalidSpecError, match="resource or resources, not both"):
        parse_spec(_spec_with(resource="https://a/", resources=["https://b/"]))


def test_token_scopes_must_be_consumed_scopes() -> None:
    with pytest.raises(InvalidSpecError, match=r"not listed in scopes\.consumes: c:other"):
        parse_spec(_spec_with(tokens=[{"name": "x", "scopes": ["c:other"]}]))


def test_token_names_must_be_unique() -> None:
    tokens = [{"name": "x", "scopes": ["a:read"]}, {"name": "x", "scopes": ["b:write"]}]

    with pytest.raises(InvalidSpecError, match="unique"):
        parse_spec(_spec_with(tokens=tokens))


def test_maskinporten_only_claims_are_refused_with_client_credentials() -> None:
    spec = _spec_with(grantType="ClientCredentials", consumerOrg="123456789")

    with pytest.raises(InvalidSpecError, match="consumerOrg apply to grantType JwtBearer"):
        parse_spec(spec)


def test_client_credentials_without_client_id_is_refused() -> None:
    spec = _spec_with(grantType="ClientCredentials")
    del spec["clientId"]

    with pytest.raises(InvalidSpecError, match="give that server's clientId"):
        parse_spec(spec)


def test_client_credentials_with_an_adopted_registration_is_refused() -> None:
    spec = _spec_with(grantType="ClientCredentials", registration={"adopt": True})

    with pytest.raises(InvalidSpecError, match="leave out registration"):
        parse_spec(spec)


def test_a_tokens_resource_is_refused_with_client_credentials() -> None:
    spec = _spec_with(
        grantType="ClientCredentials",
        tokens=[{"name": "x", "scopes": ["a:read"], "resource": "https://a.example/"}],
    )

    with pytest.raises(InvalidSpecError, match=r"tokens\[\]\.resource apply to grantType"):
        parse_spec(spec)


def test_label_value_of_a_name_that_fits_is_the_name() -> None:
    assert label_value("a" * 63) == "a" * 63


def test_label_value_of_a_longer_name_fits_in_63_characters_and_ends_alphanumeric() -> None:
    value = label_value("weather-forecast-integration-for-the-northern-region-weather-" + "-" * 3)

    assert len(value) <= 63
    assert value[0].isalnum()
    assert value[-1].isalnum()


def test_label_values_of_long_names_with_a_common_prefix_differ() -> None:
    assert label_value("n" * 64 + "a") != label_value("n" * 64 + "b")


# --- managed clients ----------------------------------------------------------------------------


def test_a_spec_without_client_id_is_a_managed_client_with_safe_defaults() -> None:
    spec = parse_spec({"scopes": {"consumes": [{"name": "a:b"}]}})

    assert spec.managed
    assert spec.registration_or_default.key_rotation_days == 90
    assert spec.registration_or_default.effective_deletion_policy is DeletionPolicy.DELETE


def test_a_spec_with_client_id_is_not_managed() -> None:
    assert not parse_spec({"clientId": "c", "scopes": {"consumes": [{"name": "a:b"}]}}).managed


def test_an_adopted_client_is_managed_and_always_retained() -> None:
    spec = parse_spec(
        {
            "clientId": "c",
            "scopes": {"consumes": [{"name": "a:b"}]},
            "registration": {"adopt": True},
        }
    )

    assert spec.managed
    assert spec.registration_or_default.effective_deletion_policy is DeletionPolicy.RETAIN


@pytest.mark.parametrize(
    "key",
    [
        {"keyId": "mine"},
        {"secretKey": "private.jwk"},
        {"passwordSecretRef": {"name": "password"}},
        {"mode": "KeyId"},
        {"mode": "Certificate"},
    ],
)
@pytest.mark.parametrize("identity", [{}, {"clientId": "c", "registration": {"adopt": True}}])
def test_a_managed_client_refuses_key_settings_that_rotation_cannot_keep_naming_them(
    key: dict[str, Any], identity: dict[str, Any]
) -> None:
    [field] = key

    with pytest.raises(InvalidSpecError, match=f"remove key.{field}"):
        parse_spec({"scopes": {"consumes": [{"name": "a:b"}]}, "key": key, **identity})


def test_a_client_with_its_own_client_id_keeps_every_key_setting() -> None:
    spec = parse_spec(
        {
            "clientId": "c",
            "scopes": {"consumes": [{"name": "a:b"}]},
            "key": {"source": "Existing", "keyId": "mine", "mode": "KeyId"},
        }
    )

    assert spec.key.key_id == "mine"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"registration": {"adopt": True}}, "set clientId"),
        (
            {"clientId": "c", "registration": {"adopt": True, "deletionPolicy": "Delete"}},
            "cannot go with adopt",
        ),
        ({"clientId": "c", "registration": {}}, "needs adopt: true"),
        ({"key": {"source": "Existing"}}, "generated by the operator"),
        ({"registration": {"keyRotationDays": 0}}, "spec.registration.keyRotationDays"),
    ],
)
def test_inconsistent_registrations_are_refused(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSpecError, match=message):
        parse_spec({"scopes": {"consumes": [{"name": "a:b"}]}, **extra})


CONSENT = {
    "type": "urn:altinn:consent",
    "id": "0a7d59f8-8c62-4312-9fb4-62456664c96f",
    "from": "urn:altinn:person:identifier-no:05848998356",
}


def test_authorization_details_take_a_consent_beside_a_system_user_and_consumer_org() -> None:
    systemuser = {"type": "urn:altinn:systemuser", "systemuserOrg": "987654321"}
    spec = parse_spec(
        _spec_with(consumerOrg="912345678", authorizationDetails=[systemuser, CONSENT])
    )

    assert [d.type for d in spec.authorization_details or ()] == [
        "urn:altinn:systemuser",
        "urn:altinn:consent",
    ]


@pytest.mark.parametrize(
    ("detail", "refusal"),
    [
        ({"type": "urn:altinn:systemuser"}, "type urn:altinn:systemuser needs systemuserOrg"),
        ({"type": "urn:altinn:consent", "id": "x"}, "type urn:altinn:consent needs from"),
        (
            {"type": "urn:altinn:systemuser", "systemuserOrg": "987654321", "id": "x"},
            "id do not belong to type urn:altinn:systemuser",
        ),
        ({"type": "not a urn"}, "authorizationDetails.0.type"),
    ],
)
def test_an_authorization_detail_not_of_its_types_shape_is_refused(
    detail: dict[str, str], refusal: str
) -> None:
    with pytest.raises(InvalidSpecError, match=refusal):
        parse_spec(_spec_with(authorizationDetails=[detail]))
