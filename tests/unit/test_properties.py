"""Properties files of Digdir's Java jwt-grant-generator are read as Java reads them."""

from __future__ import annotations

import pytest

from maskinporten_operator.cli.properties import GrantProperties, grant_properties, parse_properties

SOURCE = "client.properties"
JAVA_TOOL_FILE = """\
// your maskinporten integration id
issuer=my-client-id

# this is the values for the test enviroment
audience=https://test.maskinporten.no/
token.endpoint=https://test.maskinporten.no/token
scope=sdir:apstest sdir:other

keystore.file=sdir_test_keys.p12
keystore.password=store-secret
keystore.alias=sdir_test
keystore.alias.password=alias-secret
keystore.kid=billing-2026
resource=https://api.example.no/
consumer_org=987654321
"""


@pytest.fixture(scope="module")
def settings() -> GrantProperties:
    return grant_properties(JAVA_TOOL_FILE, source=SOURCE)


def test_issuer_is_the_client_id(settings: GrantProperties) -> None:
    assert settings.client_id == "my-client-id"


def test_audience_endpoint_and_scopes_are_read(settings: GrantProperties) -> None:
    assert settings.audience == "https://test.maskinporten.no/"
    assert settings.token_endpoint == "https://test.maskinporten.no/token"
    assert settings.scopes == ("sdir:apstest", "sdir:other")


def test_keystore_settings_are_read(settings: GrantProperties) -> None:
    assert settings.keystore_file == "sdir_test_keys.p12"
    assert settings.keystore_password == "store-secret"
    assert settings.keystore_alias == "sdir_test"
    assert settings.keystore_alias_password == "alias-secret"
    assert settings.key_id == "billing-2026"


def test_resource_and_consumer_org_are_read(settings: GrantProperties) -> None:
    assert (settings.resource, settings.consumer_org) == ("https://api.example.no/", "987654321")


def test_a_current_file_gives_no_warnings(settings: GrantProperties) -> None:
    assert settings.warnings == ()


def test_repr_holds_no_password(settings: GrantProperties) -> None:
    assert "secret" not in repr(settings)


def test_colon_and_whitespace_also_separate_keys_from_values() -> None:
    assert parse_properties("a:1\nb 2\nc = 3\nd\t:\t4") == {"a": "1", "b": "2", "c": "3", "d": "4"}


def test_hash_bang_and_double_slash_lines_are_comments() -> None:
    assert parse_properties("# a=1\n! b=2\n// c=3\n  # d=4\ne=5") == {"e": "5"}


def test_backslash_continues_a_value_on_the_next_line() -> None:
    assert parse_properties("scope=a:b \\\n    c:d\n") == {"scope": "a:b c:d"}


def test_escapes_are_decoded() -> None:
    text = "key\\=with\\:separators=tab\\there\\u00e6\\\\"

    assert parse_properties(text) == {"key=with:separators": "tab\there\u00e6\\"}


def test_values_keep_trailing_whitespace_as_in_java() -> None:
    assert parse_properties("keystore.password=pw  \n") == {"keystore.password": "pw  "}


def test_password_ending_in_whitespace_is_warned_about_without_showing_it() -> None:
    settings = grant_properties("keystore.password=hunter2 \n", source=SOURCE)

    assert settings.keystore_password == "hunter2 "
    assert settings.warnings == (
        f"{SOURCE}: keystore.password ends with whitespace, which is part of the password "
        "(as in Java)",
    )


def test_other_values_lose_trailing_whitespace() -> None:
    assert grant_properties("keystore.alias=sdir_test \n", source=SOURCE).keystore_alias == (
        "sdir_test"
    )


@pytest.mark.parametrize(
    ("line", "use"),
    [
        ("audience=https://ver2.maskinporten.no/", "audience=https://test.maskinporten.no/"),
        ("audience=https://ver1.maskinporten.no/", "audience=https://test.maskinporten.no/"),
        (
            "token.endpoint=https://ver1.maskinporten.no//token",
            "token.endpoint=https://test.maskinporten.no/token",
        ),
        (
            "audience=https://oidc-ver2.difi.no/idporten-oidc-provider/",
            "audience=https://test.maskinporten.no/",
        ),
        (
            "token.endpoint=https://oidc.difi.no/idporten-oidc-provider/token",
            "token.endpoint=https://maskinporten.no/token",
        ),
    ],
)
def test_retired_hosts_are_warned_about_with_the_one_to_use(line: str, use: str) -> None:
    warnings = grant_properties(line, source=SOURCE).warnings

    assert warnings == (f"{SOURCE}: {line} points at a retired host; use {use} instead",)


def test_token_endpoint_as_audience_is_warned_about() -> None:
    warnings = grant_properties("audience=https://maskinporten.no/token", source=SOURCE).warnings

    assert len(warnings) == 1
    assert "is a token endpoint; Maskinporten wants its issuer as audience" in warnings[0]


def test_unknown_settings_are_warned_about() -> None:
    warnings = grant_properties("scopes=a:b", source=SOURCE).warnings

    assert warnings == (f"{SOURCE}: ignoring unknown setting 'scopes'",)
