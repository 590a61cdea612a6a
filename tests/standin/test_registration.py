"""Client and key registration follows Digdir's rules."""

from __future__ import annotations

import pytest
from joserfc.jwk import RSAKey

from maskinporten_testbed.standin import Client, RegisteredKey

from .helpers import ORG, SCOPE, new_client_key


def test_registering_a_private_jwk_is_refused(client_key: RSAKey) -> None:
    with pytest.raises(ValueError, match="public"):
        RegisteredKey(client_key.as_dict(private=True))


def test_registering_a_key_without_alg_is_refused(client_key: RSAKey) -> None:
    jwk = client_key.as_dict(private=False)
    del jwk["alg"]

    with pytest.raises(ValueError, match="alg RS256"):
        RegisteredKey(jwk)


def test_registering_a_key_with_an_invalid_kid_is_refused(client_key: RSAKey) -> None:
    with pytest.raises(ValueError, match="kid"):
        RegisteredKey({**client_key.as_dict(private=False), "kid": "no spaces/please"})


def test_registering_a_non_2048_bit_key_is_refused() -> None:
    key = RSAKey.generate_key(3072, parameters={"kid": "big", "alg": "RS256", "use": "sig"})

    with pytest.raises(ValueError, match="2048"):
        RegisteredKey(key.as_dict(private=False))


def test_registering_six_keys_on_a_client_is_refused() -> None:
    keys = tuple(RegisteredKey(new_client_key(f"k{i}").as_dict(private=False)) for i in range(6))

    with pytest.raises(ValueError, match="at most 5"):
        Client("c", ORG, frozenset({SCOPE}), keys=keys)


def test_registering_a_client_with_a_malformed_org_number_is_refused() -> None:
    with pytest.raises(ValueError, match="9 digits"):
        Client("c", "12345", frozenset({SCOPE}))
