"""Operator settings from MASKINPORTEN_OPERATOR_* environment variables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from maskinporten_operator.settings import (
    Environment,
    InvalidSettingsError,
    LogFormat,
    Settings,
    settings_from_env,
)

PREFIX = "MASKINPORTEN_OPERATOR_"
README = Path(__file__).resolve().parents[2] / "README.md"


def env(**values: str) -> dict[str, str]:
    return {PREFIX + name.upper(): value for name, value in values.items()}


def readme_defaults() -> dict[str, str]:
    """The operator variables the README's settings table gives a literal default, with it."""
    rows = re.findall(rf"^\| `({PREFIX}\w+)` \| `([^`]+)` \|", README.read_text(), re.M)
    return dict(rows)


def rejection(environ: dict[str, str]) -> str:
    with pytest.raises(InvalidSettingsError) as caught:
        settings_from_env(environ)
    return str(caught.value)


# --- environments and issuers -------------------------------------------------------------------


def test_defaults_use_the_maskinporten_test_environment() -> None:
    settings = settings_from_env({})

    assert settings.environment is Environment.TEST
    assert settings.default_issuer == "https://test.maskinporten.no/"


def test_defaults_for_refresh_retry_and_limits() -> None:
    """Each variable left unset means the default the README's settings table gives it."""
    documented = readme_defaults()

    assert documented.keys() >= {
        f"{PREFIX}{name}"
        for name in (
            "REFRESH_AT_LIFETIME_PERCENT",
            "REFRESH_BEFORE_EXPIRY_SECONDS",
            "RETRY_BASE_SECONDS",
            "RETRY_MAX_SECONDS",
            "TOKEN_REQUEST_TIMEOUT_SECONDS",
            "LOG_LEVEL",
            "LOG_FORMAT",
        )
    }
    assert settings_from_env(documented) == settings_from_env({})


def test_prod_environment_uses_the_production_issuer() -> None:
    settings = settings_from_env(env(environment="prod"))

    assert settings.default_issuer == "https://maskinporten.no/"


def test_custom_environment_uses_the_given_issuer_with_a_trailing_slash() -> None:
    settings = settings_from_env(env(environment="custom", issuer="http://standin.test:8080"))

    assert settings.default_issuer == "http://standin.test:8080/"


def test_custom_environment_needs_an_issuer() -> None:
    message = rejection(env(environment="custom"))

    assert f"{PREFIX}ISSUER" in message
    assert f"{PREFIX}ENVIRONMENT" in message


@pytest.mark.parametrize("environment", ["test", "prod"])
def test_issuer_without_custom_environment_is_rejected(environment: str) -> None:
    message = rejection(env(environment=environment, issuer="https://evil.example/"))

    assert f"{PREFIX}ISSUER is only used with {PREFIX}ENVIRONMENT=custom" in message


def test_issuer_without_any_environment_is_rejected() -> None:
    message = rejection(env(issuer="https://evil.example/"))

    assert f"{PREFIX}ISSUER" in message


def test_unknown_environment_is_rejected_naming_the_variable() -> None:
    message = rejection(env(environment="staging"))

    assert message.startswith(f"{PREFIX}ENVIRONMENT:")
    assert "'test', 'prod' or 'custom'" in message


# --- allowlisted issuers ------------------------------------------------------------------------


def test_allowed_issuers_are_split_on_commas_and_spaces() -> None:
    settings = settings_from_env(
        env(allowed_issuers=" https://a.example/,https://b.example/ ,  https://c.example/\n")
    )

    assert settings.allowed_issuers == (
        "https://a.example/",
        "https://b.example/",
        "https://c.example/",
    )


def test_allowed_issuers_get_a_trailing_slash() -> None:
    settings = settings_from_env(env(allowed_issuers="https://a.example, http://b.example:8080/mp"))

    assert settings.allowed_issuers == ("https://a.example/", "http://b.example:8080/mp/")


def test_allowed_issuer_that_is_not_an_http_url_is_rejected_naming_the_variable() -> None:
    message = rejection(env(allowed_issuers="https://a.example/ ftp://b.example/"))

    assert message.startswith(f"{PREFIX}ALLOWED_ISSUERS:")


def test_namespaces_are_split_on_commas_and_spaces() -> None:
    assert settings_from_env(env(namespaces="team-a, team-b team-c")).namespaces == (
        "team-a",
        "team-b",
        "team-c",
    )


def test_issuer_for_no_request_is_the_default_issuer() -> None:
    assert settings_from_env({}).issuer_for(None) == "https://test.maskinporten.no/"


def test_issuer_for_the_default_issuer_is_allowed_with_or_without_slash() -> None:
    settings = settings_from_env({})

    assert settings.issuer_for("https://test.maskinporten.no") == "https://test.maskinporten.no/"
    assert settings.issuer_for("https://test.maskinporten.no/") == "https://test.maskinporten.no/"


def test_issuer_for_an_allowlisted_issuer_returns_it_normalised() -> None:
    settings = settings_from_env(env(allowed_issuers="https://a.example"))

    assert settings.issuer_for("https://a.example") == "https://a.example/"


def test_issuer_for_rejects_an_issuer_not_on_the_allowlist_naming_the_variable() -> None:
    settings = settings_from_env(env(allowed_issuers="https://a.example/"))

    with pytest.raises(ValueError, match=f"{PREFIX}ALLOWED_ISSUERS") as caught:
        settings.issuer_for("https://maskinporten.no/")

    message = str(caught.value)
    assert "spec.issuer https://maskinporten.no/ is not allowed" in message
    assert "https://test.maskinporten.no/, https://a.example/" in message


# --- what is rejected ---------------------------------------------------------------------------


def test_unknown_operator_variables_are_rejected_by_name() -> None:
    message = rejection(env(refresh_percent="60", environmnet="prod"))

    assert message == (f"unknown setting(s): {PREFIX}ENVIRONMNET, {PREFIX}REFRESH_PERCENT")


def test_unrelated_environment_variables_are_ignored() -> None:
    settings = settings_from_env(
        {"PATH": "/usr/bin", "MASKINPORTEN_CLIENT_ID": "x", "HTTPS_PROXY": "http://proxy:3128"}
    )

    assert settings == Settings()


def test_empty_variables_count_as_unset() -> None:
    assert settings_from_env(env(environment="", refresh_at_lifetime_percent="")) == Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("refresh_at_lifetime_percent", "95"),
        ("refresh_at_lifetime_percent", "5"),
        ("refresh_before_expiry_seconds", "-1"),
        ("retry_base_seconds", "0"),
        ("retry_max_seconds", "100000"),
        ("token_request_timeout_seconds", "121"),
        ("max_concurrent_token_requests", "0"),
        ("kubernetes_api_concurrency", "101"),
    ],
)
def test_out_of_range_number_is_rejected_naming_the_variable(name: str, value: str) -> None:
    message = rejection(env(**{name: value}))

    assert message.startswith(f"{PREFIX}{name.upper()}: Input should be")


def test_non_number_is_rejected_naming_the_variable() -> None:
    message = rejection(env(retry_base_seconds="soon"))

    assert message.startswith(f"{PREFIX}RETRY_BASE_SECONDS:")
    assert "soon" not in message


def test_every_problem_is_reported_at_once() -> None:
    message = rejection(env(refresh_at_lifetime_percent="95", log_level="TRACE"))

    assert f"{PREFIX}REFRESH_AT_LIFETIME_PERCENT" in message
    assert f"{PREFIX}LOG_LEVEL" in message


def test_settings_are_read_from_upper_case_variable_names() -> None:
    settings = settings_from_env(
        env(refresh_at_lifetime_percent="80", log_format="json", retry_base_seconds="2.5")
    )

    assert settings.refresh_at_lifetime_percent == 80
    assert settings.log_format is LogFormat.JSON
    assert settings.retry_base_seconds == 2.5


def test_service_link_variables_of_a_service_named_like_the_operator_are_ignored() -> None:
    injected = {
        "MASKINPORTEN_OPERATOR_SERVICE_HOST": "10.0.0.7",
        "MASKINPORTEN_OPERATOR_SERVICE_PORT": "8080",
        "MASKINPORTEN_OPERATOR_SERVICE_PORT_METRICS": "8080",
        "MASKINPORTEN_OPERATOR_PORT": "tcp://10.0.0.7:8080",
        "MASKINPORTEN_OPERATOR_PORT_8080_TCP": "tcp://10.0.0.7:8080",
        "MASKINPORTEN_OPERATOR_PORT_8080_TCP_ADDR": "10.0.0.7",
    }
    assert settings_from_env(injected) == settings_from_env({})


def test_altinn_exchange_defaults_to_altinns_endpoint_for_the_environment() -> None:
    assert settings_from_env({}).altinn_exchange == (
        "https://platform.tt02.altinn.no/authentication/api/v1/exchange/maskinporten"
    )
    prod = settings_from_env({"MASKINPORTEN_OPERATOR_ENVIRONMENT": "prod"})
    assert prod.altinn_exchange == (
        "https://platform.altinn.no/authentication/api/v1/exchange/maskinporten"
    )


def test_custom_environment_has_no_altinn_exchange_unless_configured() -> None:
    custom = {
        "MASKINPORTEN_OPERATOR_ENVIRONMENT": "custom",
        "MASKINPORTEN_OPERATOR_ISSUER": "https://issuer.example/",
    }
    assert settings_from_env(custom).altinn_exchange is None


# --- managed clients ----------------------------------------------------------------------------


def test_managed_clients_are_off_and_any_scope_allowed_by_default() -> None:
    settings = settings_from_env({})

    assert settings.self_service_credentials is None
    assert settings.cluster_name == "default"
    assert settings.scopes_refused("team", ("any:scope",)) == []


def test_the_custom_environment_needs_a_self_service_url_for_managed_clients() -> None:
    message = rejection(
        env(environment="custom", issuer="http://mp.local/", self_service_credentials="ops/admin")
    )

    assert "MASKINPORTEN_OPERATOR_SELF_SERVICE_URL" in message


def test_the_admin_credential_is_named_namespace_slash_name() -> None:
    assert "SELF_SERVICE_CREDENTIALS" in rejection(env(self_service_credentials="just-a-name"))


@pytest.mark.parametrize(
    ("namespace", "scopes", "refused"),
    [
        ("team-a", ("skatteetaten:x", "nav:y"), []),
        ("team-a", ("digdir:z",), []),
        ("team-b", ("digdir:z", "nav:y"), ["nav:y"]),
        ("other", ("digdir:z",), ["digdir:z"]),
    ],
)
def test_the_scope_policy_allows_a_namespace_the_scopes_of_every_rule_it_matches(
    namespace: str, scopes: tuple[str, ...], refused: list[str]
) -> None:
    settings = settings_from_env(
        env(managed_scope_policy="team-a=skatteetaten:*,nav:*; team-*=digdir:*")
    )

    assert settings.scopes_refused(namespace, scopes) == refused


@pytest.mark.parametrize("policy", ["team-a", "=nav:*", "team-a=", "a=b:c;;oops"])
def test_a_malformed_scope_policy_is_rejected_with_an_example(policy: str) -> None:
    message = rejection(env(managed_scope_policy=policy))

    assert "MASKINPORTEN_OPERATOR_MANAGED_SCOPE_POLICY" in message
    assert "team-a=skatteetaten:*,nav:*" in message
