"""Fixtures shared by the unit tests: keys (generating RSA keys is the slowest thing they do),
and the Maskinporten stand-in with a hand-registered client for the reconcile core."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa

from maskinporten_operator.credentials.keys import ClientKey, generate_client_key
from maskinporten_testbed.standin import MaskinportenStandin
from tests.unit.world import ONE_SCOPE_SPEC, HandRegisteredWorld, hand_registered_world


@pytest.fixture(scope="session")
def client_key() -> ClientKey:
    return generate_client_key()


@pytest.fixture(scope="session")
def rsa_2048() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def maskinporten() -> AsyncIterator[MaskinportenStandin]:
    """One stand-in for a module's tests (its signing key is slow to make); each world resets
    it."""
    async with MaskinportenStandin() as standin:
        yield standin


@pytest_asyncio.fixture(loop_scope="module")
async def registered_world(
    maskinporten: MaskinportenStandin, client_key: ClientKey
) -> AsyncIterator[HandRegisteredWorld]:
    """The client of :data:`~tests.unit.world.ONE_SCOPE_SPEC`, registered with ``client_key``,
    which is in its key Secret."""
    async with hand_registered_world(maskinporten, client_key, ONE_SCOPE_SPEC) as world:
        world.put_registered_key()
        yield world
