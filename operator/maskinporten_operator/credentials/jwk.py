"""A private JSON Web Key (RFC 7517; RSA members in RFC 7518 section 6.3) read into a ClientKey.

The JSON text holds one private RSA JWK: an object, a one-key array, or a one-key JWK Set
(RFC 7517 section 5). A JWK has no certificate, so it signs grants by ``kid``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from maskinporten_operator.api import KeyMode
from maskinporten_operator.credentials.certificates import NEEDS_CERTIFICATE
from maskinporten_operator.credentials.keys import (
    DEFAULT_ALGORITHM,
    ClientKey,
    InvalidKeyError,
    check_private_rsa,
    public_key_only,
)

SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512")


def load_jwk(
    text: str,
    *,
    source: str,
    key_id: str | None = None,
    default_kid: str = "",
    mode: KeyMode = KeyMode.AUTO,
) -> ClientKey:
    """The private JWK in ``text``, named in errors as ``source``.

    Its ``kid`` is ``key_id``, else the JWK's own, else ``default_kid``, else its RFC 7638
    thumbprint. ``mode`` Certificate is refused: a JWK has no certificate.
    """
    if mode is KeyMode.CERTIFICATE:
        raise InvalidKeyError(f"{source} is a JWK, which has no certificate: {NEEDS_CERTIFICATE}")
    jwk = _parse(text, source)
    key = _import(jwk, source)
    kid = key_id or str(jwk.get("kid", "")) or default_kid or key.thumbprint()
    algorithm = str(jwk.get("alg", DEFAULT_ALGORITHM))
    if algorithm not in SIGNING_ALGORITHMS:
        raise InvalidKeyError(
            f"{source} has alg {algorithm}; Maskinporten accepts {', '.join(SIGNING_ALGORITHMS)}"
        )
    check_private_rsa(key, source)
    return ClientKey(kid=kid, algorithm=algorithm, key=key)


def _parse(text: str, source: str) -> dict[str, object]:
    try:
        parsed: object = json.loads(text)
    except ValueError:
        raise InvalidKeyError(
            f"{source} is neither a JSON Web Key nor a PEM key (expected a private JWK as JSON, "
            "or a PEM block starting with '-----BEGIN')"
        ) from None
    if isinstance(parsed, dict) and isinstance(parsed.get("keys"), list):
        parsed = parsed["keys"]
    if isinstance(parsed, list):
        if len(parsed) != 1:
            raise InvalidKeyError(f"{source} holds {len(parsed)} keys; store exactly one")
        parsed = parsed[0]
    if not isinstance(parsed, dict):
        raise InvalidKeyError(f"{source} is JSON but not a JSON Web Key object")
    if parsed.get("kty") != "RSA":
        raise InvalidKeyError(
            f"{source} has kty {parsed.get('kty')!r}; Maskinporten client keys are RSA"
        )
    if "d" not in parsed:
        raise public_key_only(source)
    return parsed


def _import(jwk: Mapping[str, object], source: str) -> RSAKey:
    try:
        return RSAKey.import_key({k: v for k, v in jwk.items() if isinstance(v, str)})
    except (JoseError, ValueError, TypeError):
        raise InvalidKeyError(f"{source} is not a valid RSA private JWK") from None
