"""Running the command-line tools as people do, and reading what they print."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maskinporten_testbed.standin import StandinThread
from tests.helpers import decode_jwt

CLI = str(Path(sys.executable).parent / "maskinporten-operator")
ORG = "123456789"
OTHER_ORG = "987654321"
SYSTEM_USER_ORG = "310000001"
KID_CLIENT = "kid-client"
CERT_CLIENT = "cert-client"
KID = "billing-2026"
SCOPE = "test:read"
RESOURCE = "https://api.example.no/"
OTHER_RESOURCE = "https://other.example.no/"
PASSWORD = "s3cret-Passw0rd"


@dataclass(frozen=True)
class Files:
    """Credential files: the registered key in every form, and the business certificate."""

    jwk: Path
    pkcs1: Path
    pkcs8: Path
    encrypted: Path
    password: Path
    p12: Path
    certificate_key: Path
    certificate_chain: Path


def run(
    *args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The entry point with only ``env`` of the MASKINPORTEN_* variables set."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MASKINPORTEN_")}
    return subprocess.run(
        [CLI, *map(str, args)],
        capture_output=True,
        text=True,
        env={**environment, **(env or {})},
        cwd=cwd,
        timeout=60,
        check=False,
    )


def token_args(standin: StandinThread, client_id: str = KID_CLIENT) -> list[str]:
    return ["token", "--client-id", client_id, "--scope", SCOPE, "--issuer", standin.issuer]


def issued(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The claims of the token a successful run printed."""
    assert result.returncode == 0, result.stderr
    return decode_jwt(result.stdout).claims
