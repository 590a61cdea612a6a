from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from joserfc.jwk import RSAKey

from maskinporten_testbed.selfservice import AdminClient, SelfServiceStandin, provision_admin_client
from maskinporten_testbed.standin import FrozenClock, MaskinportenStandin
from maskinporten_testbed.testca import BusinessCertificate, CertificateAuthority

from .helpers import (
    ORG,
    OTHER_ORG,
    OTHER_SCOPE,
    PUBLIC_SCOPE,
    REQUESTED_SCOPE,
    SCOPE,
    Api,
)


@pytest.fixture(scope="session")
def other_certificate(ca: CertificateAuthority) -> BusinessCertificate:
    return ca.issue(OTHER_ORG)


@pytest.fixture(scope="session")
def keys() -> list[RSAKey]:
    """Six RSA 2048 key pairs: generating them is the slowest thing these tests do."""
    return [RSAKey.generate_key(2048) for _ in range(6)]


@pytest.fixture
async def standin(ca: CertificateAuthority) -> AsyncIterator[MaskinportenStandin]:
    """Its clock stands still unless a test moves it."""
    async with MaskinportenStandin(trusted_cas=[ca.root], clock=FrozenClock()) as server:
        yield server


@pytest.fixture
async def selfservice(standin: MaskinportenStandin) -> AsyncIterator[SelfServiceStandin]:
    async with SelfServiceStandin(standin) as server:
        server.grant_scope_access(ORG, SCOPE, OTHER_SCOPE)
        server.grant_scope_access(ORG, REQUESTED_SCOPE, state="REQUESTED")
        server.grant_scope_access(OTHER_ORG, SCOPE)
        server.add_public_scope(PUBLIC_SCOPE)
        yield server


@pytest.fixture
def admin(
    standin: MaskinportenStandin,
    ca: CertificateAuthority,
    business_certificate: BusinessCertificate,
) -> AdminClient:
    return provision_admin_client(standin, ca, ORG, certificate=business_certificate)


@pytest.fixture
def other_admin(
    standin: MaskinportenStandin, ca: CertificateAuthority, other_certificate: BusinessCertificate
) -> AdminClient:
    return provision_admin_client(standin, ca, OTHER_ORG, certificate=other_certificate)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
async def api(
    http: httpx.AsyncClient,
    standin: MaskinportenStandin,
    selfservice: SelfServiceStandin,
    admin: AdminClient,
) -> Api:
    return await Api(http, selfservice, admin).log_in()


@pytest.fixture
async def other_api(
    http: httpx.AsyncClient,
    standin: MaskinportenStandin,
    selfservice: SelfServiceStandin,
    other_admin: AdminClient,
) -> Api:
    return await Api(http, selfservice, other_admin).log_in()
