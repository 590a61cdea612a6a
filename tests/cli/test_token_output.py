"""What ``token`` prints, and the exit codes scripts rely on."""

from __future__ import annotations

import json
import re

from maskinporten_testbed.network import free_port
from maskinporten_testbed.standin import StandinThread
from tests.helpers import decode_jwt

from .helpers import KID_CLIENT, SCOPE, Files, run, token_args


def test_default_output_is_the_bare_token_on_one_line(standin: StandinThread, files: Files) -> None:
    result = run(*token_args(standin), "--jwk", files.jwk)

    assert result.returncode == 0
    assert result.stdout.count("\n") == 1
    assert result.stdout.count(".") == 2
    assert result.stderr == ""


def test_header_output_is_an_authorization_header(standin: StandinThread, files: Files) -> None:
    result = run(*token_args(standin), "--jwk", files.jwk, "--header")

    assert result.stdout.startswith("Authorization: Bearer ey")
    token = result.stdout.removeprefix("Authorization: Bearer ")
    assert decode_jwt(token).claims["scope"] == SCOPE


def test_json_output_has_the_whole_response_and_the_decoded_claims(
    standin: StandinThread, files: Files
) -> None:
    document = json.loads(run(*token_args(standin), "--jwk", files.jwk, "--json").stdout)

    assert set(document["token"]) == {"access_token", "token_type", "expires_in", "scope"}
    assert document["token"]["expires_in"] == 120
    assert document["claims"] == decode_jwt(document["token"]["access_token"]).claims
    assert document["claims"]["client_id"] == KID_CLIENT


def test_refused_request_exits_1_with_the_servers_description_and_a_hint(
    standin: StandinThread, files: Files
) -> None:
    result = run(*token_args(standin), "--jwk", files.jwk, "--scope", "test:write")

    assert result.returncode == 1
    assert result.stdout == ""
    assert "invalid_scope: MP-201: Invalid scopes for client:" in result.stderr
    assert "hint: the client may not use this scope" in result.stderr


def test_refused_request_says_when_this_machines_clock_is_off_from_the_servers(
    standin: StandinThread, files: Files
) -> None:
    standin.set_clock_offset(120)  # the server's clock two minutes ahead of this machine's
    try:
        result = run(*token_args(standin), "--jwk", files.jwk)
    finally:
        standin.set_clock_offset(0)

    assert result.returncode == 1
    assert re.search(
        r"this machine's clock is 1(19|20|21) s behind the server's \(here \S+Z, server \S+Z\)",
        result.stderr,
    )


def test_unknown_kid_exits_1_with_a_hint_about_registering_the_key(
    standin: StandinThread, files: Files
) -> None:
    result = run(*token_args(standin), "--pem", files.pkcs8, "--kid", "not-registered")

    assert result.returncode == 1
    assert "MP-100" in result.stderr
    assert "hint: check the client id, and that the key is registered" in result.stderr


def test_missing_settings_exit_2_and_say_where_to_give_them(files: Files) -> None:
    result = run("token", "--jwk", files.jwk, "--scope", SCOPE, "--issuer", "test")

    assert result.returncode == 2
    assert "error: no client id" in result.stderr
    assert "hint: give --client-id, issuer= in a properties file, or MASKINPORTEN_CLIENT_ID" in (
        result.stderr
    )


def test_unreadable_credential_file_exits_2(standin: StandinThread, files: Files) -> None:
    result = run(*token_args(standin), "--jwk", files.jwk.with_name("missing.json"))

    assert result.returncode == 2
    assert "cannot read JWK file" in result.stderr


def test_unknown_flag_exits_2() -> None:
    assert run("token", "--no-such-flag").returncode == 2


def test_unreachable_server_exits_3(files: Files) -> None:
    issuer = f"http://127.0.0.1:{free_port()}/"

    result = run("token", "--client-id", KID_CLIENT, "--scope", SCOPE, "--issuer", issuer,
                 "--jwk", files.jwk, "--timeout", "5")  # fmt: skip

    assert result.returncode == 3
    assert "ConnectError" in result.stderr
    assert "hint: check the URL and the network; behind a proxy, set HTTPS_PROXY" in result.stderr


def test_failing_server_exits_3(standin: StandinThread, files: Files) -> None:
    standin.fail_next(1, status=503)

    result = run(*token_args(standin), "--jwk", files.jwk)

    assert result.returncode == 3
    assert "HTTP 503" in result.stderr


def test_help_documents_the_exit_codes() -> None:
    result = run("token", "--help")

    assert result.returncode == 0
    for line in (
        "0  the token was printed",
        "1  the authorization server refused the request",
        "2  usage or input error",
        "3  the authorization server could not be reached",
    ):
        assert line in result.stdout


def test_errors_never_show_the_private_key(standin: StandinThread, files: Files) -> None:
    private = json.loads(files.jwk.read_text())

    result = run(*token_args(standin), "--jwk", files.jwk, "--scope", "test:write", "--json")

    for member in ("d", "p", "q"):
        assert private[member] not in result.stderr + result.stdout
