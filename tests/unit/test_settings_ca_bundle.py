"""MASKINPORTEN_OPERATOR_CA_BUNDLE (CA certificates for an issuer with a private CA), checked at
start-up, and the start-up warnings for issuers and exchanges reached over plain http."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from maskinporten_operator.settings import InvalidSettingsError, settings_from_env
from maskinporten_testbed.testca import CertificateAuthority

PREFIX = "MASKINPORTEN_OPERATOR_"


def env(**values: str) -> dict[str, str]:
    return {PREFIX + name.upper(): value for name, value in values.items()}


def rejection(environ: dict[str, str]) -> str:
    with pytest.raises(InvalidSettingsError) as caught:
        settings_from_env(environ)
    return str(caught.value)


@pytest.fixture
def ca_bundle(tmp_path: Path, ca: CertificateAuthority) -> Path:
    path = tmp_path / "ca.pem"
    path.write_bytes(ca.root.public_bytes(serialization.Encoding.PEM))
    return path


# --- the CA bundle ------------------------------------------------------------------------------


def test_ca_bundle_is_unset_by_default() -> None:
    assert settings_from_env({}).ca_bundle is None


def test_ca_bundle_holding_a_pem_certificate_is_accepted(ca_bundle: Path) -> None:
    settings = settings_from_env(env(ca_bundle=str(ca_bundle)))

    assert settings.ca_bundle == str(ca_bundle)


def test_ca_bundle_that_does_not_exist_is_rejected_naming_the_variable_and_the_path(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "missing.pem"

    message = rejection(env(ca_bundle=str(missing)))

    assert message == f"{PREFIX}CA_BUNDLE: {missing} does not exist"


def test_ca_bundle_that_cannot_be_read_is_rejected_naming_the_variable(tmp_path: Path) -> None:
    message = rejection(env(ca_bundle=str(tmp_path)))

    assert message == f"{PREFIX}CA_BUNDLE: {tmp_path} cannot be read: Is a directory"


def test_ca_bundle_without_a_certificate_is_rejected_naming_the_variable(tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate\n")

    message = rejection(env(ca_bundle=str(not_pem)))

    assert message == f"{PREFIX}CA_BUNDLE: {not_pem} holds no PEM certificate"


# --- plain http warnings ------------------------------------------------------------------------


@pytest.mark.parametrize("environment", ["test", "prod"])
def test_maskinporten_environments_give_no_warnings(environment: str) -> None:
    assert settings_from_env(env(environment=environment)).warnings() == []


def test_https_issuers_give_no_warnings() -> None:
    settings = settings_from_env(
        env(
            environment="custom",
            issuer="https://idp.example.net/",
            allowed_issuers="https://test.maskinporten.no/",
        )
    )

    assert settings.warnings() == []


def test_plain_http_custom_issuer_is_warned_about() -> None:
    settings = settings_from_env(env(environment="custom", issuer="http://idp.example.net"))

    [warning] = settings.warnings()

    assert warning.startswith(f"{PREFIX}ISSUER http://idp.example.net/ is plain http")
    assert f"{PREFIX}CA_BUNDLE" in warning


def test_each_plain_http_allowed_issuer_is_warned_about() -> None:
    settings = settings_from_env(
        env(allowed_issuers="http://a.example.net/ https://b.example.net/ http://c.example.net/")
    )

    warnings = settings.warnings()

    assert [warning.split(" is plain http")[0] for warning in warnings] == [
        f"{PREFIX}ALLOWED_ISSUERS entry http://a.example.net/",
        f"{PREFIX}ALLOWED_ISSUERS entry http://c.example.net/",
    ]


def test_plain_http_altinn_exchange_is_warned_about() -> None:
    settings = settings_from_env(env(altinn_exchange_url="http://altinn.example.net/exchange"))

    [warning] = settings.warnings()

    assert warning.startswith(
        f"{PREFIX}ALTINN_EXCHANGE_URL http://altinn.example.net/exchange is plain http"
    )
