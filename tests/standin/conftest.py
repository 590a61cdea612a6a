from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from joserfc.jwk import RSAKey

from maskinporten_testbed.standin import Client, FrozenClock, MaskinportenStandin, RegisteredKey
from maskinporten_testbed.testca import CertificateAuthority

from .helpers import (
    CERT_CLIENT_ID,
    CLIENT_ID,
    LONG_SCOPE,
    ORG,
    OTHER_ORG,
    RESOURCE,
    SCOPE,
    Grants,
    new_client_key,
)


@pytest.fixture(scope="session")
def client_key() -> RSAKey:
    return new_client_key()


@pytest.fixture
def clock() -> FrozenClock:
    """The stand-in's time, standing still at a whole second: a test reads the very instant the
    server checks its grant against, so no boundary depends on how fast the machine is."""
    return FrozenClock(int(time.time()))


@pytest.fixture
async def standin(
    ca: CertificateAuthority, client_key: RSAKey, clock: FrozenClock
) -> AsyncIterator[MaskinportenStandin]:
    """The stand-in with scope caps (``at_max_age``) of 600 and 3600 s, distinct and over the
    120 s default, so that a test can tell which lifetime a token got."""
    async with MaskinportenStandin(
        lifetimes={SCOPE: 600, LONG_SCOPE: 3600}, trusted_cas=[ca.root], clock=clock
    ) as server:
        server.register_client(
            Client(
                client_id=CLIENT_ID,
                org=ORG,
                scopes=frozenset({SCOPE, LONG_SCOPE}),
                keys=(RegisteredKey(client_key.as_dict(private=False)),),
                resources=frozenset({RESOURCE, "https://other.example.no/"}),
                delegations={OTHER_ORG: frozenset({SCOPE})},
            )
        )
        server.register_client(
            Client(client_id=CERT_CLIENT_ID, org=ORG, scopes=frozenset({SCOPE, LONG_SCOPE}))
        )
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def grants(standin: MaskinportenStandin, client_key: RSAKey) -> Grants:
    return Grants(standin, client_key)
