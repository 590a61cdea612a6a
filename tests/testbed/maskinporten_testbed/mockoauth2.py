"""navikt's mock-oauth2-server from Maven Central: an OAuth 2.0 server nobody here wrote.

It has no standalone jar on Maven Central, so a throwaway POM resolves its classpath with
Maven and its main class runs on the machine's Java (17+). It parses ``private_key_jwt`` client
assertions (assertion type, ``aud``, ``exp``) and issues tokens whose ``sub`` is the client id,
but does not verify signatures: it checks the wire format and discovery, not the key.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from maskinporten_testbed.network import free_port
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.signals import die_with_parent

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


def available() -> bool:
    return shutil.which("java") is not None and shutil.which("mvn") is not None


@contextmanager
def mock_oauth2_server(workdir: Path) -> Iterator[str]:
    """Run the server on a free loopback port; yield its issuer (``…/default``)."""
    (workdir / "pom.xml").write_text(POM)
    subprocess.run(
        ["mvn", "-q", "-B", "dependency:build-classpath", "-Dmdep.outputFile=classpath.txt"],
        cwd=workdir,
        check=True,
        capture_output=True,
        timeout=600,
    )
    classpath = (workdir / "classpath.txt").read_text().strip()
    port = free_port()
    with subprocess.Popen(
        ["java", "-cp", classpath, MAIN_CLASS],
        env={**os.environ, "SERVER_HOSTNAME": "127.0.0.1", "SERVER_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    ) as server:
        issuer = f"http://127.0.0.1:{port}/default"
        try:
            _wait_until_serving(f"{issuer}/.well-known/oauth-authorization-server", server)
            yield issuer
        finally:
            server.terminate()
            server.wait(timeout=30)


def _wait_until_serving(url: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    def serving() -> bool:
        if server.poll() is not None:
            raise RuntimeError(f"mock-oauth2-server exited with {server.returncode}")
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    eventually(serving, what=f"mock-oauth2-server serving {url}", timeout=timeout)
