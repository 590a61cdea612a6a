"""Client keys: the RSA key and ``kid`` a grant is signed with, and generating new ones.

The keys users bring are read by one module per format: :mod:`.jwk`, :mod:`.pem` and
:mod:`.pkcs12`; :mod:`.secret_data` finds them in a Secret. Every error names what is wrong and
what to change, and never includes key material or passwords.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey
from joserfc.util import int_to_base64

KEY_SIZE = 2048
DEFAULT_ALGORITHM = "RS256"


class InvalidKeyError(ValueError):
    """The key material cannot be used; the message says what to fix (and holds no secrets)."""


class PasswordError(InvalidKeyError):
    """A password is missing or wrong; callers add where the password comes from."""


@dataclass(frozen=True, slots=True)
class ClientKey:
    """An RSA private key with the ``kid`` Maskinporten knows it by.

    With a ``certificate_chain`` (base64 DER, leaf first) grants carry it as ``x5c`` instead of
    the ``kid`` (a business certificate); ``kid`` is then the leaf's SHA-256 thumbprint
    (``x5t#S256``), for status and logs only.

    The key is held as its PKCS #1 DER (``der``), and each use builds an OpenSSL key of its own
    (:attr:`key`, ~5 µs of CPU; a signature costs ~0.6 ms either way). A held OpenSSL key would
    cost ~2.3 KiB, and ~7 KiB more once it has signed (OpenSSL keeps its Montgomery and
    blinding values with the key); the DER, ~1.5 KiB in all. A replica holds one key per
    client, each used once per token lifetime (measured with 2,000 keys).
    """

    kid: str
    algorithm: str
    der: bytes = field(repr=False)
    certificate_chain: tuple[str, ...] = ()

    @classmethod
    def from_rsa_key(
        cls, *, kid: str, algorithm: str, key: RSAKey, certificate_chain: tuple[str, ...] = ()
    ) -> ClientKey:
        """``key`` is a private key (see :func:`check_private_rsa`)."""
        private = cast(rsa.RSAPrivateKey, key.raw_value)
        der = private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        return cls(kid=kid, algorithm=algorithm, der=der, certificate_chain=certificate_chain)

    @property
    def key(self) -> RSAKey:
        """The key in an OpenSSL key and joserfc wrapper of its own, built for this use and
        dropped with it (see the class)."""
        private = serialization.load_der_private_key(
            self.der, password=None, unsafe_skip_rsa_key_validation=True
        )
        return RSAKey.import_key(cast(rsa.RSAPrivateKey, private))

    def public_jwk(self) -> dict[str, str]:
        """Made from the public numbers, not with ``as_dict`` (which computes the private
        members too)."""
        return self._public_members(self.key)

    def _public_members(self, key: RSAKey) -> dict[str, str]:
        public = key.public_key.public_numbers()
        return {
            "kty": "RSA",
            "e": int_to_base64(public.e),
            "n": int_to_base64(public.n),
            "kid": self.kid,
            "alg": self.algorithm,
            "use": "sig",
        }

    def public_jwk_json(self) -> str:
        return json.dumps(self.public_jwk(), separators=(",", ":"))

    def private_jwk_json(self) -> str:
        key = self.key
        private = {**key.as_dict(private=True), **self._public_members(key)}
        return json.dumps(private, separators=(",", ":"))

    def public_pem(self) -> str:
        pem: bytes = self.key.as_pem(private=False)
        return pem.decode()


def generate_client_key() -> ClientKey:
    """A new RSA 2048 key whose ``kid`` is its RFC 7638 thumbprint (stable, and unique)."""
    key = RSAKey.generate_key(KEY_SIZE, private=True)
    return ClientKey.from_rsa_key(kid=key.thumbprint(), algorithm=DEFAULT_ALGORITHM, key=key)


def public_key_only(where: str) -> InvalidKeyError:
    return InvalidKeyError(
        f"{where} holds a public key only; the operator needs the private key "
        "(a JWK with 'd', or a PEM 'PRIVATE KEY')"
    )


def check_private_rsa(key: RSAKey, where: str, *, registered: bool = True) -> None:
    """A private RSA key of 2048 bits (registered keys), or of at least 2048 bits (certificates),
    whose private numbers agree with its public ones (see :func:`check_consistent`)."""
    raw = key.raw_value
    if not isinstance(raw, rsa.RSAPrivateKey):
        raise public_key_only(where)
    if raw.key_size < KEY_SIZE or (registered and raw.key_size != KEY_SIZE):
        raise InvalidKeyError(
            f"{where} is a {raw.key_size}-bit RSA key; "
            f"Maskinporten accepts only {KEY_SIZE}-bit keys{'' if registered else ' or larger'}"
        )
    check_consistent(raw, where)


def check_consistent(key: rsa.RSAPrivateKey, where: str) -> None:
    """The key's private numbers agree with its public ones (RFC 8017 section 3.2): n = p·q,
    e·d ≡ 1 (mod lcm(p-1, q-1)), e·dP ≡ 1 (mod p-1), e·dQ ≡ 1 (mod q-1), q·qInv ≡ 1 (mod p).

    Keys are loaded without OpenSSL's full RSA validation, whose primality tests of p and q cost
    ~50 ms of CPU per key; these congruences take microseconds (see :func:`rsa_from_numbers`).
    They catch parts that do not belong together, as any tool's export or a hand-edit produces
    them; they assume p and q are prime, which only a key crafted to deceive breaks (its grants
    are then refused by Maskinporten).
    """
    private = key.private_numbers()
    p, q, d, e = private.p, private.q, private.d, private.public_numbers.e
    if not (
        min(p, q) > 1
        and p * q == private.public_numbers.n
        and e * d % math.lcm(p - 1, q - 1) == 1
        and e * private.dmp1 % (p - 1) == 1
        and e * private.dmq1 % (q - 1) == 1
        and q * private.iqmp % p == 1
    ):
        raise InvalidKeyError(
            f"{where} is not a consistent RSA private key (its private and public parts do "
            "not belong together)"
        )


def rsa_from_numbers(numbers: rsa.RSAPrivateNumbers) -> rsa.RSAPrivateKey:
    """The key, without OpenSSL's primality tests (call :func:`check_private_rsa` on it)."""
    return numbers.private_key(unsafe_skip_rsa_key_validation=True)
