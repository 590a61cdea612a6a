"""Managed clients ask Maskinporten for a token lifetime that serves Secret delivery: the
operator registers ``access_token_lifetime`` on the client it creates or updates, the status
shows the lifetime Maskinporten grants, and the LifetimeSufficient condition says when an API
owner's limit for a scope grants less than the client asks for. The harness is
:mod:`tests.unit.world`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from maskinporten_operator.reconcile.conditions import LIFETIME_SUFFICIENT
from maskinporten_testbed.standin import Client
from maskinporten_testbed.testca import BusinessCertificate, CertificateAuthority
from tests.helpers import ORG

from .world import READY, ManagedWorld, condition, managed_world

pytestmark = pytest.mark.asyncio(loop_scope="module")

SCOPE = "test:read"
SPEC: Mapping[str, Any] = {"scopes": {"consumes": [{"name": SCOPE}]}}


def spec_with_lifetime(seconds: int) -> dict[str, Any]:
    return {**SPEC, "registration": {"accessTokenLifetimeSeconds": seconds}}


@pytest.fixture(scope="module")
def admin_certificate(ca: CertificateAuthority) -> BusinessCertificate:
    return ca.issue(ORG, not_after=datetime.now(UTC) + timedelta(days=365))


@pytest_asyncio.fixture(loop_scope="module")
async def world(
    ca: CertificateAuthority, admin_certificate: BusinessCertificate
) -> AsyncIterator[ManagedWorld]:
    async with managed_world(ca, admin_certificate, SPEC) as world:
        world.selfservice.grant_scope_access(ORG, SCOPE)
        yield world


def registered_lifetime(world: ManagedWorld, client_id: str) -> object:
    document = world.selfservice.client_document(client_id)
    assert document is not None
    return document["access_token_lifetime"]


async def test_a_created_client_asks_for_3600_s_by_default(world: ManagedWorld) -> None:
    await world.reconcile()

    assert registered_lifetime(world, world.status["clientId"]) == 3600


async def test_a_created_client_asks_for_the_lifetime_the_spec_gives(world: ManagedWorld) -> None:
    world.spec = spec_with_lifetime(1800)

    await world.reconcile()

    assert registered_lifetime(world, world.status["clientId"]) == 1800


async def test_a_lifetime_change_in_the_spec_updates_the_client_with_one_call(
    world: ManagedWorld,
) -> None:
    await world.reconcile()
    world.observe_from_here()
    world.spec = spec_with_lifetime(900)

    outcome = await world.reconcile()

    client_id = world.status["clientId"]
    assert condition(outcome, READY)["status"] == "True"
    assert registered_lifetime(world, client_id) == 900
    assert world.calls() == [f"PUT /clients/{client_id}"]


async def test_an_adopted_client_keeps_its_lifetime_unless_the_spec_gives_one(
    world: ManagedWorld,
) -> None:
    world.selfservice.register_client(
        Client("hand-made", ORG, frozenset({SCOPE}), access_token_lifetime=600)
    )
    world.spec = {**SPEC, "clientId": "hand-made", "registration": {"adopt": True}}

    await world.reconcile()

    assert registered_lifetime(world, "hand-made") == 600


async def test_the_status_shows_the_lifetime_maskinporten_grants(world: ManagedWorld) -> None:
    world.spec = spec_with_lifetime(1800)

    await world.reconcile()

    assert world.status["tokenLifetimeSeconds"] == 1800


async def test_a_scopes_cap_grants_the_lower_lifetime_shown_in_the_status(
    world: ManagedWorld,
) -> None:
    world.maskinporten.set_lifetime(SCOPE, 600)

    await world.reconcile()

    assert registered_lifetime(world, world.status["clientId"]) == 3600
    assert world.status["tokenLifetimeSeconds"] == 600


async def test_the_lifetime_condition_says_when_a_scopes_cap_keeps_it_shorter(
    world: ManagedWorld,
) -> None:
    world.maskinporten.set_lifetime(SCOPE, 600)

    outcome = await world.reconcile()

    message = condition(outcome, LIFETIME_SUFFICIENT)["message"]
    assert "grants 600 s of the 3600 s the client asks for" in message
    assert "at_max_age" in message


async def test_the_lifetime_condition_names_no_cap_when_the_lifetime_is_granted_in_full(
    world: ManagedWorld,
) -> None:
    outcome = await world.reconcile()

    message = condition(outcome, LIFETIME_SUFFICIENT)["message"]
    assert message.startswith("tokens live 3600 s or longer")
    assert "at_max_age" not in message
