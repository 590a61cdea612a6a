"""A private JSON Web Key (RFC 7517; RSA members in RFC 7518 section 6.3) read into a ClientKey.

The JSON text holds one private RSA JWK: an object, a one-key array, or a one-key JWK Set
(RFC 7517 section 5). A JWK has no certificate, so it signs grants by ``kid``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from joserfc.util import urlsafe_b64decode

from maskinporten_operator.api import KeyMode
from maskinporten_operator.credentials.certificates import NEEDS_CERTIFICATE
from maskinporten_operator.credentials.keys import (
    DEFAULT_ALGORITHM,
    ClientKey,
    InvalidKeyError,
    check_private_rsa,
    public_key_only,
    rsa_from_numbers,
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
    return ClientKey.from_rsa_key(kid=kid, algorithm=algorithm, key=key)


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
    """The key (checked by :func:`check_private_rsa` afterwards, not by OpenSSL here)."""
    try:
        return RSAKey.import_key(rsa_from_numbers(_private_numbers(jwk)))
    except (JoseError, ValueError, TypeError, KeyError):
        raise InvalidKeyError(f"{source} is not a valid RSA private JWK") from None


CRT_MEMBERS = ("p", "q", "dp", "dq", "qi")


def _private_numbers(jwk: Mapping[str, object]) -> rsa.RSAPrivateNumbers:
    """RFC 7518 section 6.3.2; the CRT members are recovered when absent. Raises KeyError,
    TypeError or ValueError on missing, non-string or malformed members."""
    if "oth" in jwk:
        raise ValueError("multi-prime RSA keys are not supported")

    def number(name: str) -> int:
        value = jwk[name]
        if not isinstance(value, str):
            raise TypeError(name)
        # joserfc's base64_to_int goes through a hex string: 10 times slower (0.3 ms a key)
        return int.from_bytes(urlsafe_b64decode(value.encode()), "big")

    public = rsa.RSAPublicNumbers(number("e"), number("n"))
    d = number("d")
    if all(name in jwk for name in CRT_MEMBERS):
        p, q = number("p"), number("q")
        dmp1, dmq1, iqmp = number("dp"), number("dq"), number("qi")
    else:
        p, q = rsa.rsa_recover_prime_factors(public.n, public.e, d)
        dmp1, dmq1, iqmp = rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q)
    return rsa.RSAPrivateNumbers(p, q, d, dmp1, dmq1, iqmp, public)
