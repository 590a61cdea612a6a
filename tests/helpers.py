"""What tests in several directories share besides fixtures."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from joserfc import jws, jwt
from joserfc.jwk import Key, KeySet, RSAKey

ORG = "123456789"
"""The organisation the test CA's business certificate is issued to."""

NOW = datetime.now(UTC).replace(microsecond=0)
"""The test CA's one instant: it issues certificates at it, and the unit tests check them at it,
however long the test run has taken when a test gets there."""

JWS = jws.JWSRegistry(algorithms=["RS256"])
JWS.max_header_length = 16_384  # an x5c chain is larger than joserfc's default allows


def decode_jwt(token: str, key: Key | KeySet | str | None = None) -> jwt.Token:
    """A JWT's header and claims, its RS256 signature verified with ``key`` (a joserfc key or key
    set, or a public key PEM) when one is given: a wrong one raises ``BadSignatureError``."""
    compact = token.strip()
    if isinstance(key, str):
        key = RSAKey.import_key(key)
    if key is not None:
        return jwt.decode(compact, key, registry=JWS)
    unverified = jws.extract_compact(compact.encode(), registry=JWS)
    return jwt.Token(unverified.headers(), json.loads(unverified.payload))
