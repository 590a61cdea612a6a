"""``token --client-credentials`` against an authorization server nobody on this project wrote:
navikt's mock-oauth2-server (Kotlin, on Nimbus OAuth 2.0 SDK), from Maven Central.

It parses the ``private_key_jwt`` client assertion (it refuses a wrong assertion type, or one
without ``aud`` or ``exp``) and issues a token whose ``sub`` is the client id it read from it. It
does not verify signatures, so this checks the wire format and discovery, not the key. Needs
``java`` (17+) and ``mvn``; the first run downloads the server and its dependencies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from maskinporten_testbed.controlplane import free_port

from .conftest import Files, claims_of, run

VERSION = "6.0.2"
MAIN_CLASS = "no.nav.security.mock.oauth2.StandaloneMockOAuth2ServerKt"
POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>mock-oauth2-server-runner</artifactId><version>1</version>
  <dependencies>
    <dependency>
      <groupId>no.nav.security</groupId><artifactId>mock-oauth2-server</artifactId>
      <version>{VERSION}</version>
    </dependency>
  </dependencies>
</project>
"""
CLIENT_ID = "interop-client"

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None or shutil.which("mvn") is None, reason="needs java and mvn"
)


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("mock-oauth2-server")
    (directory / "pom.xml").write_text(POM)
    subprocess.run(
        ["mvn", "-q", "-B", "dependency:build-classpath", "-Dmdep.outputFile=classpath.txt"],
        cwd=directory,
        check=True,
        capture_output=True,
        timeout=600,
    )
    classpath = (directory / "classpath.txt").read_text().strip()
    port = free_port()
    with subprocess.Popen(
        ["java", "-cp", classpath, MAIN_CLASS],
        env={**os.environ, "SERVER_HOSTNAME": "127.0.0.1", "SERVER_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as server:
        url = f"http://127.0.0.1:{port}/default"
        try:
            _wait_until_serving(f"{url}/.well-known/oauth-authorization-server", server)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def _wait_until_serving(url: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "mock-oauth2-server exited"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"mock-oauth2-server not serving {url} after {timeout:.0f} s")


def client_credentials(issuer: str, files: Files, *args: str) -> dict[str, object]:
    result = run(
        "token", "--client-credentials", "--jwk", files.jwk, "--client-id", CLIENT_ID,
        "--issuer", issuer, *args,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return claims_of(result.stdout)


def test_token_for_the_client_named_in_the_assertion(issuer: str, files: Files) -> None:
    claims = client_credentials(issuer, files, "--scope", "api://weather/.default")

    assert (claims["iss"], claims["sub"]) == (issuer, CLIENT_ID)
    assert claims["aud"] == "api://weather/.default"


def test_token_endpoint_is_discovered_from_the_issuer_metadata(issuer: str, files: Files) -> None:
    assert client_credentials(issuer, files)["sub"] == CLIENT_ID


def test_given_token_endpoint_is_used_as_it_is(issuer: str, files: Files) -> None:
    claims = client_credentials(issuer, files, "--token-endpoint", f"{issuer}/token")

    assert claims["sub"] == CLIENT_ID
