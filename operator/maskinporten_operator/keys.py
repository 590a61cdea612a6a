"""Client keys: generating them, and reading the ones users bring (private JWK or PEM).

Every error names what is wrong and what to change, and never includes key material.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

KEY_SIZE = 2048
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512")
DEFAULT_ALGORITHM = "RS256"
JWK_DATA_KEYS = ("jwk", "MASKINPORTEN_CLIENT_JWK")
PEM_DATA_KEYS = ("key.pem", "tls.key", "private.pem")
KID_DATA_KEY = "kid"


class InvalidKeyError(ValueError):
    """The key material cannot be used; the message says what to fix (and holds no secrets)."""


@dataclass(frozen=True)
class ClientKey:
    """An RSA private key with the ``kid`` Maskinporten knows it by."""

    kid: str
    algorithm: str
    key: RSAKey = field(repr=False)

    def public_jwk(self) -> dict[str, str]:
        public = self.key.as_dict(private=False)
        return {
            "kty": "RSA",
            "e": str(public["e"]),
            "n": str(public["n"]),
            "kid": self.kid,
            "alg": self.algorithm,
            "use": "sig",
        }

    def public_jwk_json(self) -> str:
        return json.dumps(self.public_jwk(), separators=(",", ":"))

    def private_jwk_json(self) -> str:
        private = {**self.key.as_dict(private=True), **self.public_jwk()}
        return json.dumps(private, separators=(",", ":"))

    def public_pem(self) -> str:
        pem: bytes = self.key.as_pem(private=False)
        return pem.decode()


def generate_client_key() -> ClientKey:
    """A new RSA 2048 key whose ``kid`` is its RFC 7638 thumbprint (stable, and unique)."""
    key = RSAKey.generate_key(KEY_SIZE, private=True)
    return ClientKey(kid=key.thumbprint(), algorithm=DEFAULT_ALGORITHM, key=key)


def load_client_key(
    data: Mapping[str, str],
    *,
    source: str,
    data_key: str | None = None,
    key_id: str | None = None,
) -> ClientKey:
    """Read the private key held in ``data`` (a Secret's decoded data) described as ``source``.

    ``data_key`` names the entry (otherwise the usual names are tried); ``key_id`` overrides the
    key's own ``kid`` and is required for PEM keys, which have none (or put it under ``kid``).
    """
    name = data_key or next((k for k in (*JWK_DATA_KEYS, *PEM_DATA_KEYS) if k in data), None)
    if name is None or name not in data:
        expected = data_key or " or ".join(f"'{k}'" for k in (*JWK_DATA_KEYS, *PEM_DATA_KEYS))
        present = ", ".join(f"'{k}'" for k in sorted(data)) or "none"
        raise InvalidKeyError(
            f"{source} has no key under {expected} (data keys present: {present})"
        )
    where = f"{source} key '{name}'"
    text = data[name].strip()
    if text.startswith("-----BEGIN"):
        key = _import_pem(text, where)
        kid = key_id or data.get(KID_DATA_KEY, "").strip()
        if not kid:
            raise InvalidKeyError(
                f"{where} is a PEM key, which carries no key id: set spec.key.keyId to the kid "
                f"registered at Maskinporten, or add it to the Secret under '{KID_DATA_KEY}'"
            )
        algorithm = DEFAULT_ALGORITHM
    else:
        jwk = _parse_jwk(text, where)
        key = _import_jwk(jwk, where)
        kid = key_id or str(jwk.get("kid", "")) or data.get(KID_DATA_KEY, "").strip()
        kid = kid or key.thumbprint()
        algorithm = str(jwk.get("alg", DEFAULT_ALGORITHM))
        if algorithm not in SIGNING_ALGORITHMS:
            raise InvalidKeyError(
                f"{where} has alg {algorithm}; Maskinporten accepts {', '.join(SIGNING_ALGORITHMS)}"
            )
    _check_private_rsa_2048(key, where)
    return ClientKey(kid=kid, algorithm=algorithm, key=key)


def _parse_jwk(text: str, where: str) -> dict[str, object]:
    try:
        parsed: object = json.loads(text)
    except ValueError:
        raise InvalidKeyError(
            f"{where} is neither a JSON Web Key nor a PEM key (expected a private JWK as JSON, "
            "or a PEM block starting with '-----BEGIN')"
        ) from None
    if isinstance(parsed, dict) and isinstance(parsed.get("keys"), list):
        parsed = parsed["keys"]
    if isinstance(parsed, list):
        if len(parsed) != 1:
            raise InvalidKeyError(f"{where} holds {len(parsed)} keys; store exactly one")
        parsed = parsed[0]
    if not isinstance(parsed, dict):
        raise InvalidKeyError(f"{where} is JSON but not a JSON Web Key object")
    if parsed.get("kty") != "RSA":
        raise InvalidKeyError(
            f"{where} has kty {parsed.get('kty')!r}; Maskinporten client keys are RSA"
        )
    if "d" not in parsed:
        raise _public_key_only(where)
    return parsed


def _import_jwk(jwk: Mapping[str, object], where: str) -> RSAKey:
    try:
        return RSAKey.import_key({k: v for k, v in jwk.items() if isinstance(v, str)})
    except (JoseError, ValueError, TypeError):
        raise InvalidKeyError(f"{where} is not a valid RSA private JWK") from None


def _import_pem(text: str, where: str) -> RSAKey:
    header = text.split("\n", 3)
    if "ENCRYPTED" in header[0] or any(line.startswith("Proc-Type:") for line in header[1:3]):
        raise InvalidKeyError(
            f"{where} is an encrypted PEM key; store it unencrypted "
            "(openssl pkey -in key.pem -out plain.pem)"
        )
    if "PUBLIC KEY" in header[0]:
        raise _public_key_only(where)
    if "CERTIFICATE" in header[0]:
        raise InvalidKeyError(f"{where} is a certificate, not a private key")
    try:
        return RSAKey.import_key(text)
    except (JoseError, ValueError, TypeError):
        raise InvalidKeyError(f"{where} is not a readable RSA private key in PEM form") from None


def _public_key_only(where: str) -> InvalidKeyError:
    return InvalidKeyError(
        f"{where} holds a public key only; the operator needs the private key "
        "(a JWK with 'd', or a PEM 'PRIVATE KEY')"
    )


def _check_private_rsa_2048(key: RSAKey, where: str) -> None:
    raw = key.raw_value
    if not isinstance(raw, rsa.RSAPrivateKey):
        raise _public_key_only(where)
    if raw.key_size != KEY_SIZE:
        raise InvalidKeyError(
            f"{where} is a {raw.key_size}-bit RSA key; "
            f"Maskinporten accepts only {KEY_SIZE}-bit keys"
        )
