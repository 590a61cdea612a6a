"""Keys shared by the unit tests: generating RSA keys is the slowest thing they do."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from maskinporten_operator.credentials.keys import ClientKey, generate_client_key


@pytest.fixture(scope="session")
def client_key() -> ClientKey:
    return generate_client_key()


@pytest.fixture(scope="session")
def rsa_2048() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)
