"""Client keys: generating them, and reading the ones users bring in a Secret (JWK or PEM).

Every error names what is wrong and what to change, and never includes key material.
Password-protected files, PKCS#12, keystores and business certificates are read by
:mod:`.formats`.
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
    """An RSA private key with the ``kid`` Maskinporten knows it by.

    With a ``certificate_chain`` (base64 DER, leaf first) grants carry it as ``x5c`` instead of
    the ``kid`` (a business certificate); ``kid`` is then the leaf's SHA-256 thumbprint
    (``x5t#S256``), for status and logs only.
    """

    kid: str
    algorithm: str
    key: RSAKey = field(repr=False)
    certificate_chain: tuple[str, ...] = ()

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
    Encrypted PEM keys and certificates are read by :mod:`.formats`.
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
    default_kid = data.get(KID_DATA_KEY, "").strip()
    if not text.startswith("-----BEGIN"):
        return client_key_from_jwk(text, where=where, key_id=key_id, default_kid=default_kid)
    key = _import_pem(text, where)
    kid = key_id or default_kid
    if not kid:
        raise InvalidKeyError(
            f"{where} is a PEM key, which carries no key id: set spec.key.keyId to the kid "
            f"registered at Maskinporten, or add it to the Secret under '{KID_DATA_KEY}'"
        )
    check_private_rsa(key, where)
    return ClientKey(kid=kid, algorithm=DEFAULT_ALGORITHM, key=key)


def client_key_from_jwk(
    text: str, *, where: str, key_id: str | None = None, default_kid: str = ""
) -> ClientKey:
    """A private JWK (an object, a one-key array or a one-key JWKS) given as JSON text.

    Its ``kid`` is ``key_id``, else the JWK's own, else ``default_kid``, else its RFC 7638
    thumbprint.
    """
    jwk = _parse_jwk(text, where)
    key = _import_jwk(jwk, where)
    kid = key_id or str(jwk.get("kid", "")) or default_kid or key.thumbprint()
    algorithm = str(jwk.get("alg", DEFAULT_ALGORITHM))
    if algorithm not in SIGNING_ALGORITHMS:
        raise InvalidKeyError(
            f"{where} has alg {algorithm}; Maskinporten accepts {', '.join(SIGNING_ALGORITHMS)}"
        )
    check_private_rsa(key, where)
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
        raise public_key_only(where)
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
            f"{where} is an encrypted PEM key: set spec.key.passwordSecretRef to the Secret "
            "holding its password, or store it unencrypted "
            "(openssl pkey -in key.pem -out plain.pem)"
        )
    if "PUBLIC KEY" in header[0]:
        raise public_key_only(where)
    if "CERTIFICATE" in header[0]:
        raise InvalidKeyError(f"{where} is a certificate, not a private key")
    try:
        return RSAKey.import_key(text)
    except (JoseError, ValueError, TypeError):
        raise InvalidKeyError(f"{where} is not a readable RSA private key in PEM form") from None


def public_key_only(where: str) -> InvalidKeyError:
    return InvalidKeyError(
        f"{where} holds a public key only; the operator needs the private key "
        "(a JWK with 'd', or a PEM 'PRIVATE KEY')"
    )


def check_private_rsa(key: RSAKey, where: str, *, registered: bool = True) -> None:
    """A private RSA key of 2048 bits (registered keys), or of at least 2048 bits (certificates)."""
    raw = key.raw_value
    if not isinstance(raw, rsa.RSAPrivateKey):
        raise public_key_only(where)
    if raw.key_size < KEY_SIZE or (registered and raw.key_size != KEY_SIZE):
        raise InvalidKeyError(
            f"{where} is a {raw.key_size}-bit RSA key; "
            f"Maskinporten accepts only {KEY_SIZE}-bit keys{'' if registered else ' or larger'}"
        )
