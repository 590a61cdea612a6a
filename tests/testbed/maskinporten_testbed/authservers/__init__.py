"""Authorization servers nobody on this project wrote, fetched into the test bed's cache and run
on loopback: Keycloak and node's oidc-provider, each verifying ``private_key_jwt`` client
assertions (signature, ``aud``, ``exp``, ``jti`` replay) before it issues a client-credentials
token. ``python -m maskinporten_testbed.authservers`` fetches both (what ``hack/run-tests`` runs
before the interop tests, so that a first run shows its progress)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RegisteredClient:
    """A confidential client authenticating with ``private_key_jwt``, allowed client credentials
    and every scope of the server; ``jwks`` holds its public keys (JWK Set)."""

    client_id: str
    jwks: dict[str, Any]


def log(message: str) -> None:
    print(f"[authservers] {message}", file=sys.stderr, flush=True)
