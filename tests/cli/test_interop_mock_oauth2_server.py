"""``token --client-credentials`` against an authorization server nobody on this project wrote:
navikt's mock-oauth2-server (Kotlin, on Nimbus OAuth 2.0 SDK), from Maven Central.

It parses the ``private_key_jwt`` client assertion (it refuses a wrong assertion type, or one
without ``aud`` or ``exp``) and issues a token whose ``sub`` is the client id it read from it. It
does not verify signatures, so this checks the wire format and discovery, not the key. Needs
``java`` (17+) and ``mvn``; the first run downloads the server and its dependencies.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from maskinporten_testbed import mockoauth2
from tests.helpers import decode_jwt

from .helpers import Files, run

CLIENT_ID = "interop-client"

pytestmark = pytest.mark.skipif(not mockoauth2.available(), reason="needs java and mvn")


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mockoauth2.mock_oauth2_server(tmp_path_factory.mktemp("mock-oauth2-server")) as url:
        yield url


def client_credentials(issuer: str, files: Files, *args: str) -> dict[str, object]:
    result = run(
        "token", "--client-credentials", "--jwk", files.jwk, "--client-id", CLIENT_ID,
        "--issuer", issuer, *args,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return decode_jwt(result.stdout).claims


def test_token_for_the_client_named_in_the_assertion(issuer: str, files: Files) -> None:
    claims = client_credentials(issuer, files, "--scope", "api://weather/.default")

    assert (claims["iss"], claims["sub"]) == (issuer, CLIENT_ID)
    assert claims["aud"] == "api://weather/.default"


def test_token_endpoint_is_discovered_from_the_issuer_metadata(issuer: str, files: Files) -> None:
    assert client_credentials(issuer, files)["sub"] == CLIENT_ID


def test_given_token_endpoint_is_used_as_it_is(issuer: str, files: Files) -> None:
    claims = client_credentials(issuer, files, "--token-endpoint", f"{issuer}/token")

    assert claims["sub"] == CLIENT_ID
