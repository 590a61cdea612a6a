"""Keycloak from Maven Central (``org.keycloak:keycloak-quarkus-dist``), in dev mode on loopback.

Fetched once into ``<cache>/keycloak/keycloak-<version>/``: the zip, checked against the SHA-512
Maven Central publishes for it (pinned here), unpacked and started once so that Quarkus' build
step for dev mode is done there and not at every start. Each run gets a home of its own in a
temporary directory (the launch script, ``conf`` and the build output copied; the jars linked)
with an in-memory database, so that runs share nothing but the read-only jars. Configured
through the admin REST API: one realm, client scopes named as Keycloak users name them, and
confidential clients with the "Signed JWT" authenticator (``client-jwt``) and service accounts.
Needs a JDK 21 or newer (``$JAVA_HOME``, else the newest in ``/usr/lib/jvm``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from maskinporten_testbed import processes
from maskinporten_testbed.authservers import RegisteredClient, log
from maskinporten_testbed.binaries import cache_lock, cache_root
from maskinporten_testbed.network import free_port

VERSION = "26.7.3"
ARCHIVE_URL = (
    "https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist/"
    f"{VERSION}/keycloak-quarkus-dist-{VERSION}.zip"
)
ARCHIVE_SHA512 = (
    "15c764765576eef267cf15cc5225a5826b5394a25a83d9bfa5b8544e4bbba690"
    "cb743c9d384200b93bb71ee4c4a328e1dd8c0a00f822fd3e6e154f14b1e47216"
)
"""Maven Central's ``.sha512`` of the zip."""
MINIMUM_JAVA = 21
JVM_DIRECTORY = Path("/usr/lib/jvm")
REALM = "interop"
ADMIN = ("admin", "admin")
"""The temporary admin user dev mode creates (loopback only, in-memory database)."""
START_TIMEOUT = 300.0
LINKED = ("lib/lib", "lib/app", "themes", "providers")
COPIED = ("bin/kc.sh", "conf", "lib/quarkus", "lib/quarkus-run.jar")


def directory() -> Path:
    return cache_root() / "keycloak" / f"keycloak-{VERSION}"


def fetch() -> Path:
    """The prepared installation, downloaded and prepared first unless it is in the cache."""
    if directory().is_dir():
        return directory()
    java = java_home()
    with cache_lock("keycloak"):
        if directory().is_dir():
            return directory()
        started = time.monotonic()
        work = cache_root() / "build"
        work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"keycloak-{VERSION}-", dir=work) as scratch:
            archive = Path(scratch) / "keycloak.zip"
            log(f"downloading Keycloak {VERSION} from Maven Central ({ARCHIVE_URL})")
            _download_verified(archive)
            _unpack(archive, Path(scratch))
            installation = Path(scratch) / f"keycloak-{VERSION}"
            log("building Keycloak for dev mode (a first start; a minute or two)")
            with _running(installation, java, Path(scratch) / "prepare.log"):
                pass
            shutil.rmtree(installation / "data", ignore_errors=True)
            directory().parent.mkdir(parents=True, exist_ok=True)
            installation.rename(directory())
        log(f"Keycloak {VERSION} ready in {time.monotonic() - started:.0f} s")
    return directory()


def java_home() -> Path:
    """A JDK of ``MINIMUM_JAVA`` or newer: ``$JAVA_HOME`` if it is one, else the newest in
    ``/usr/lib/jvm``."""
    configured = os.environ.get("JAVA_HOME")
    if configured and _java_version(Path(configured)) >= MINIMUM_JAVA:
        return Path(configured)
    found = [(_java_version(home), home) for home in sorted(JVM_DIRECTORY.glob("*"))]
    fitting = [(version, home) for version, home in found if version >= MINIMUM_JAVA]
    if not fitting:
        raise RuntimeError(
            f"Keycloak {VERSION} needs a JDK {MINIMUM_JAVA} or newer: set JAVA_HOME to one "
            f"(none found in {JVM_DIRECTORY})"
        )
    return max(fitting)[1]


def _java_version(home: Path) -> int:
    release = home / "release"
    if not (home / "bin" / "java").is_file() or not release.is_file():
        return 0
    found = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(errors="replace"), re.MULTILINE)
    return int(found[1]) if found else 0


def _download_verified(archive: Path) -> None:
    digest = hashlib.sha512()
    with httpx.stream("GET", ARCHIVE_URL, timeout=60, follow_redirects=True) as response:
        response.raise_for_status()
        with archive.open("wb") as output:
            for chunk in response.iter_bytes(1 << 20):
                digest.update(chunk)
                output.write(chunk)
    if digest.hexdigest() != ARCHIVE_SHA512:
        raise RuntimeError(f"{ARCHIVE_URL} does not match its published SHA-512")


def _unpack(archive: Path, into: Path) -> None:
    """Unpack keeping the files' modes (``zipfile`` alone drops the launch scripts' x bit)."""
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.infolist():
            path = Path(zipped.extract(member, into))
            mode = member.external_attr >> 16
            if mode and not member.is_dir():
                path.chmod(mode & 0o777)


@contextmanager
def keycloak(
    workdir: Path, scopes: Sequence[str], clients: Sequence[RegisteredClient]
) -> Iterator[str]:
    """Keycloak with realm ``interop``, ``scopes`` as client scopes and ``clients``, each with
    every scope as an optional one; yields the realm's issuer."""
    home = _home_of_its_own(fetch(), workdir / "keycloak")
    with _running(home, java_home(), workdir / "keycloak.log") as base:
        admin = _Admin(base)
        admin.create_realm(scopes)
        for client in clients:
            admin.create_client(client, scopes)
        yield f"{base}/realms/{REALM}"


def _home_of_its_own(installation: Path, home: Path) -> Path:
    for name in COPIED:
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (installation / name).is_dir() else shutil.copy2
        copy(installation / name, home / name)
    for name in LINKED:
        (home / name).symlink_to(installation / name)
    return home


@contextmanager
def _running(home: Path, java: Path, log_file: Path) -> Iterator[str]:
    """``kc.sh start-dev`` on a free loopback port; yields its base URL; stops it on exit."""
    port = free_port()
    env = {
        **os.environ,
        "JAVA_HOME": str(java),
        "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN[0],
        "KC_BOOTSTRAP_ADMIN_PASSWORD": ADMIN[1],
    }
    command = [
        str(home / "bin" / "kc.sh"),
        "start-dev",
        "--http-host=127.0.0.1",
        f"--http-port={port}",
        "--db=dev-mem",
    ]
    started = time.monotonic()
    process = processes.spawn(command, log=log_file, env=env, cwd=home)
    try:
        base = f"http://127.0.0.1:{port}"
        processes.wait_serving(
            f"{base}/realms/master/.well-known/openid-configuration",
            process,
            log_file,
            what="Keycloak",
            timeout=START_TIMEOUT,
        )
        log(f"Keycloak serving at {base} after {time.monotonic() - started:.0f} s")
        yield base
    finally:
        processes.stop(process)


class _Admin:
    """The admin REST API, as the bootstrap admin of the master realm."""

    def __init__(self, base: str) -> None:
        self._base = base
        token = httpx.post(
            f"{base}/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": ADMIN[0],
                "password": ADMIN[1],
            },
            timeout=30,
        )
        token.raise_for_status()
        self._http = httpx.Client(
            base_url=f"{base}/admin/realms",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=30,
        )
        self._scope_ids: dict[str, str] = {}

    def create_realm(self, scopes: Sequence[str]) -> None:
        self._created("", {"realm": REALM, "enabled": True})
        for scope in scopes:
            self._scope_ids[scope] = self._created(
                f"/{REALM}/client-scopes",
                {
                    "name": scope,
                    "protocol": "openid-connect",
                    "attributes": {"include.in.token.scope": "true"},
                },
            )

    def create_client(self, client: RegisteredClient, scopes: Sequence[str]) -> None:
        """A confidential client with the "Signed JWT" authenticator and its JWK Set."""
        client_uuid = self._created(
            f"/{REALM}/clients",
            {
                "clientId": client.client_id,
                "publicClient": False,
                "serviceAccountsEnabled": True,
                "standardFlowEnabled": False,
                "directAccessGrantsEnabled": False,
                "clientAuthenticatorType": "client-jwt",
                "attributes": {"use.jwks.string": "true", "jwks.string": json.dumps(client.jwks)},
            },
        )
        for scope in scopes:
            path = f"/{REALM}/clients/{client_uuid}/optional-client-scopes/{self._scope_ids[scope]}"
            self._http.put(path).raise_for_status()

    def _created(self, path: str, body: dict[str, object]) -> str:
        """POST ``body``; the new object's id (the last segment of its Location)."""
        response = self._http.post(path, json=body)
        response.raise_for_status()
        location: str = response.headers["location"]
        return location.rsplit("/", 1)[-1]
