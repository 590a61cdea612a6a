"""``maskinporten-operator token`` gets a token from every kind of credential people hold.

The stand-in tells how a grant was signed: ``client_amr`` is ``private_key_jwt`` for a kid grant
and ``virksomhetssertifikat`` for an x5c grant, and it refuses a header with both or neither.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from maskinporten_operator.credentials.keys import ClientKey
from maskinporten_operator.credentials.pkcs12 import CONVERT_JKS
from maskinporten_testbed.standin import StandinThread

from .helpers import (
    CERT_CLIENT,
    KID,
    KID_CLIENT,
    PASSWORD,
    SCOPE,
    Files,
    issued,
    run,
    token_args,
)

REGISTERED_KEY = "private_key_jwt"
CERTIFICATE = "virksomhetssertifikat"


def test_private_jwk_file(standin: StandinThread, files: Files) -> None:
    claims = issued(run(*token_args(standin), "--jwk", files.jwk))

    assert (claims["client_id"], claims["client_amr"]) == (KID_CLIENT, REGISTERED_KEY)


@pytest.mark.parametrize("form", ["pkcs1", "pkcs8"])
def test_pem_key_with_its_kid(standin: StandinThread, files: Files, form: str) -> None:
    pem = getattr(files, form)

    claims = issued(run(*token_args(standin), "--pem", pem, "--kid", KID))

    assert claims["client_amr"] == REGISTERED_KEY


def test_encrypted_pem_key_with_a_password_file(standin: StandinThread, files: Files) -> None:
    result = run(
        *token_args(standin),
        "--pem",
        files.encrypted,
        "--kid",
        KID,
        "--password-file",
        files.password,
    )

    assert issued(result)["client_amr"] == REGISTERED_KEY


def test_encrypted_pem_key_with_the_password_in_the_environment(
    standin: StandinThread, files: Files
) -> None:
    result = run(
        *token_args(standin),
        "--pem",
        files.encrypted,
        "--kid",
        KID,
        env={"MASKINPORTEN_KEY_PASSWORD": PASSWORD},
    )

    assert issued(result)["client_amr"] == REGISTERED_KEY


def test_encrypted_pem_key_without_a_password_says_how_to_give_it(
    standin: StandinThread, files: Files
) -> None:
    result = run(*token_args(standin), "--pem", files.encrypted, "--kid", KID)

    assert result.returncode == 2
    assert f"PEM file {files.encrypted} is encrypted: give its password" in result.stderr
    assert "--password-file" in result.stderr
    assert standin.request_count() == 0


def test_pkcs12_business_certificate_signs_with_x5c(standin: StandinThread, files: Files) -> None:
    result = run(
        *token_args(standin, CERT_CLIENT), "--p12", files.p12, "--password-file", files.password
    )

    assert issued(result)["client_amr"] == CERTIFICATE


def test_pem_key_with_its_certificate_chain_signs_with_x5c(
    standin: StandinThread, files: Files
) -> None:
    result = run(
        *token_args(standin, CERT_CLIENT),
        "--pem",
        files.certificate_key,
        "--cert",
        files.certificate_chain,
    )

    assert issued(result)["client_amr"] == CERTIFICATE


def test_certificate_of_a_client_with_registered_keys_is_refused_by_the_server(
    standin: StandinThread, files: Files
) -> None:
    result = run(*token_args(standin), "--p12", files.p12, "--password-file", files.password)

    assert result.returncode == 1
    assert "Clients with registered keys must use kid, not x5c" in result.stderr


def test_keystore_in_pkcs12_form_with_its_alias(
    standin: StandinThread, files: Files, tmp_path: Path
) -> None:
    keystore = tmp_path / "keystore.jks"
    shutil.copy(files.p12, keystore)

    result = run(
        *token_args(standin, CERT_CLIENT),
        "--jks",
        keystore,
        "--alias",
        "virksomhetssertifikat",
        env={"MASKINPORTEN_KEY_PASSWORD": PASSWORD},
    )

    assert issued(result)["client_amr"] == CERTIFICATE


@pytest.mark.skipif(shutil.which("keytool") is None, reason="needs Java's keytool")
def test_jks_keystore_says_how_to_convert_it(standin: StandinThread, tmp_path: Path) -> None:
    keystore = tmp_path / "old.jks"
    subprocess.run(
        ["keytool", "-genkeypair", "-storetype", "JKS", "-keystore", str(keystore), "-alias",
         "virksomhet", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=test",
         "-storepass", PASSWORD, "-keypass", PASSWORD],
        check=True,
        capture_output=True,
    )  # fmt: skip

    result = run(
        *token_args(standin, CERT_CLIENT),
        "--jks",
        keystore,
        "--alias",
        "virksomhet",
        env={"MASKINPORTEN_KEY_PASSWORD": PASSWORD},
    )

    assert result.returncode == 2
    assert f"keystore {keystore} is a JKS keystore" in result.stderr
    assert CONVERT_JKS in result.stderr


def test_properties_file_of_the_java_tool(
    standin: StandinThread, files: Files, tmp_path: Path
) -> None:
    properties = tmp_path / "client.properties"
    properties.write_text(
        f"// your maskinporten integration id\n"
        f"issuer={CERT_CLIENT}\n"
        f"audience={standin.issuer}\n"
        f"token.endpoint={standin.token_endpoint}\n"
        f"scope={SCOPE}\n"
        f"keystore.file={files.p12.name}\n"
        f"keystore.password={PASSWORD}\n"
        f"keystore.alias=virksomhetssertifikat\n"
        f"keystore.alias.password={PASSWORD}\n"
    )
    shutil.copy(files.p12, tmp_path / files.p12.name)

    result = run("token", "--properties", properties, cwd=tmp_path)

    assert issued(result)["client_amr"] == CERTIFICATE
    assert result.stderr == ""


def test_properties_file_pointing_at_retired_hosts_warns_and_names_the_host_to_use(
    standin: StandinThread, files: Files, tmp_path: Path
) -> None:
    properties = tmp_path / "client.properties"
    properties.write_text(
        f"issuer={KID_CLIENT}\n"
        "audience=https://ver2.maskinporten.no/\n"
        "token.endpoint=https://ver2.maskinporten.no/token\n"
        f"scope={SCOPE}\n"
    )

    result = run(
        "token",
        "--properties",
        properties,
        "--jwk",
        files.jwk,
        "--issuer",
        standin.issuer,
        "--token-endpoint",
        standin.token_endpoint,
    )

    assert issued(result)["client_id"] == KID_CLIENT
    retired = "audience=https://ver2.maskinporten.no/ points at a retired host"
    assert f"{retired}; use audience=https://test.maskinporten.no/ instead" in result.stderr
    assert "use token.endpoint=https://test.maskinporten.no/token instead" in result.stderr


def test_nais_environment_variables(standin: StandinThread, client_key: ClientKey) -> None:
    result = run(
        "token",
        env={
            "MASKINPORTEN_CLIENT_ID": KID_CLIENT,
            "MASKINPORTEN_CLIENT_JWK": client_key.private_jwk_json(),
            "MASKINPORTEN_SCOPES": SCOPE,
            "MASKINPORTEN_ISSUER": standin.issuer,
            "MASKINPORTEN_TOKEN_ENDPOINT": standin.token_endpoint,
        },
    )

    assert issued(result)["client_id"] == KID_CLIENT


def test_flags_win_over_the_environment(standin: StandinThread, files: Files) -> None:
    result = run(
        *token_args(standin),
        "--jwk",
        files.jwk,
        env={"MASKINPORTEN_CLIENT_ID": "someone-else", "MASKINPORTEN_ISSUER": "https://x.invalid/"},
    )

    assert issued(result)["client_id"] == KID_CLIENT


def test_issuer_given_without_its_trailing_slash_is_still_the_grants_audience(
    standin: StandinThread, files: Files
) -> None:
    args = ["token", "--client-id", KID_CLIENT, "--scope", SCOPE]
    issuer = standin.issuer.rstrip("/")

    claims = issued(run(*args, "--issuer", issuer, "--jwk", files.jwk))

    assert claims["client_id"] == KID_CLIENT
