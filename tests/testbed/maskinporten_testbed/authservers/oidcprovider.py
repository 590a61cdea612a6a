"""node's oidc-provider (the OpenID-certified server by panva) from npm, on loopback.

Installed once with ``npm ci`` from the lock file in ``oidc-provider-lock/`` (beside this module:
every dependency's version and integrity pinned), into
``<cache>/oidc-provider/oidc-provider-<version>-<lock digest>``; run
by ``oidc_provider_server.mjs`` (beside this module) with the scopes and clients given, each
client authenticating with ``private_key_jwt`` and allowed ``client_credentials``. It warns that
it wants node 22 or newer; node 20 runs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from maskinporten_testbed import processes
from maskinporten_testbed.authservers import RegisteredClient, log
from maskinporten_testbed.binaries import cache_lock, cache_root
from maskinporten_testbed.network import free_port

VERSION = "9.13.3"
SERVER_SCRIPT = Path(__file__).with_name("oidc_provider_server.mjs")
LOCKED = Path(__file__).with_name("oidc-provider-lock")
"""``package.json`` and ``package-lock.json``: oidc-provider at ``VERSION`` and its dependencies."""
START_TIMEOUT = 60.0


def directory() -> Path:
    """Named by the lock's digest too: another lock is another installation."""
    digest = hashlib.sha256((LOCKED / "package-lock.json").read_bytes()).hexdigest()[:12]
    return cache_root() / "oidc-provider" / f"oidc-provider-{VERSION}-{digest}"


def fetch() -> Path:
    """The directory holding ``node_modules``, installed first unless it is in the cache."""
    if directory().is_dir():
        return directory()
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError(f"oidc-provider {VERSION} needs node and npm on PATH")
    with cache_lock("oidc-provider"):
        if directory().is_dir():
            return directory()
        started = time.monotonic()
        work = cache_root() / "build"
        work.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"oidc-provider-{VERSION}-", dir=work))
        log(f"installing oidc-provider {VERSION} from npm, as locked")
        try:
            for name in ("package.json", "package-lock.json"):
                shutil.copy(LOCKED / name, staging)
            subprocess.run(
                ["npm", "ci", "--prefix", str(staging), "--no-audit", "--no-fund", "--omit=dev"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            directory().parent.mkdir(parents=True, exist_ok=True)
            staging.rename(directory())
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log(f"oidc-provider {VERSION} installed in {time.monotonic() - started:.0f} s")
    return directory()


@contextmanager
def oidc_provider(
    workdir: Path, scopes: Sequence[str], clients: Sequence[RegisteredClient]
) -> Iterator[str]:
    """oidc-provider with ``scopes`` and ``clients``; yields its issuer."""
    installed = fetch()
    port = free_port()
    settings = workdir / "oidc-provider.json"
    settings.write_text(
        json.dumps({"port": port, "scopes": list(scopes), "clients": [asdict(c) for c in clients]})
    )
    log_file = workdir / "oidc-provider.log"
    started = time.monotonic()
    # An ES module finds its imports in node_modules beside it or above (not via NODE_PATH).
    (workdir / "node_modules").symlink_to(installed / "node_modules")
    script = shutil.copy(SERVER_SCRIPT, workdir)
    env = {**os.environ, "NODE_ENV": "development"}
    process = processes.spawn(["node", str(script), str(settings)], log=log_file, env=env)
    try:
        issuer = f"http://127.0.0.1:{port}"
        processes.wait_serving(
            f"{issuer}/.well-known/oauth-authorization-server",
            process,
            log_file,
            what="oidc-provider",
            timeout=START_TIMEOUT,
        )
        log(f"oidc-provider serving at {issuer} after {time.monotonic() - started:.1f} s")
        yield issuer
    finally:
        processes.stop(process)
