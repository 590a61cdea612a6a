"""Managed clients, one reconciliation at a time: the reconcile core against the in-memory
Kubernetes API, the real self-service API client talking to the self-service stand-in, and the
real authorization server client talking to the Maskinporten stand-in behind it (they share one
registry, so what is registered is what the token endpoint accepts); the harness is
:mod:`tests.unit.world`.

Time is one frozen clock shared by the operator and both stand-ins; nothing sleeps. Each test
states a starting point and what reconciliations make of it: conditions, Events, the client at
Digdir, and how many self-service API calls it took.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import kopf
import pytest
import pytest_asyncio

from maskinporten_operator.credentials.keys import ClientKey, generate_client_key
from maskinporten_operator.ports import ClientRegistration
from maskinporten_operator.reasons import EventType, Reason
from maskinporten_operator.rfc3339 import format_time
from maskinporten_operator.runtime import handlers
from maskinporten_testbed.standin import Client, RegisteredKey
from maskinporten_testbed.testca import BusinessCertificate, CertificateAuthority
from tests.helpers import ORG

from .world import (
    ADMIN_SECRET,
    CLIENT_REGISTERED,
    DAY,
    DESCRIPTION,
    DIGDIR_PROPAGATION_SECONDS,
    NAME,
    NAMESPACE,
    READY,
    REF,
    START,
    WORKLOAD_SECRET,
    Failure,
    ManagedWorld,
    condition,
    managed_world,
    reasons,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

SCOPE = "test:read"
OTHER_SCOPE = "test:write"
NOT_GRANTED = "test:secret"
SPEC: Mapping[str, Any] = {"scopes": {"consumes": [{"name": SCOPE}]}}


@pytest.fixture(scope="module")
def admin_certificate(ca: CertificateAuthority) -> BusinessCertificate:
    """Valid beyond the year the frozen clock moves through."""
    return ca.issue(ORG, not_after=datetime.now(UTC) + timedelta(days=3 * 365))


@pytest_asyncio.fixture(loop_scope="module")
async def world(
    ca: CertificateAuthority, admin_certificate: BusinessCertificate
) -> AsyncIterator[ManagedWorld]:
    async with managed_world(ca, admin_certificate, SPEC) as world:
        world.selfservice.grant_scope_access(ORG, SCOPE, OTHER_SCOPE)
        yield world


# --- create ---------------------------------------------------------------------------------


async def test_a_resource_without_client_id_gets_a_client_and_a_token_with_no_manual_step(
    world: ManagedWorld,
) -> None:
    outcome = await world.reconcile()

    assert condition(outcome, READY)["status"] == "True", condition(outcome, READY)["message"]
    assert condition(outcome, CLIENT_REGISTERED)["reason"] == Reason.REGISTERED
    [client] = world.our_clients()
    assert client["scopes"] == [SCOPE]
    assert client["client_name"] == "team/weather"
    assert client["integration_type"] == "maskinporten"
    assert world.status["clientId"] == client["client_id"]
    assert (
        world.kube.secret_data(NAMESPACE, WORKLOAD_SECRET)["MASKINPORTEN_CLIENT_ID"]
        == (client["client_id"])
    )
    assert world.registered_kids(client["client_id"]) == [world.status["keyId"]]
    [key] = world.status["keys"]
    assert (key["kid"], key["state"]) == (world.status["keyId"], "Active")
    assert reasons(outcome) == [
        Reason.KEY_GENERATED,
        Reason.CLIENT_CREATED,
        Reason.KEY_REGISTERED,
        Reason.TOKEN_ISSUED,
    ]


async def test_the_memory_gives_the_key_registration_expiry_for_the_metric(
    world: ManagedWorld,
) -> None:
    await world.reconcile()

    expiry = world.memory.earliest_key_registration_expiry()

    assert expiry is not None
    assert format_time(expiry) == world.status["keys"][0]["expiresAt"]


async def test_a_create_takes_five_self_service_calls_and_a_steady_client_none(
    world: ManagedWorld,
) -> None:
    await world.reconcile()
    created = world.calls()
    world.observe_from_here()
    world.advance(3600)

    again = await world.reconcile()

    assert created == [
        "GET /clients",
        "GET /scopes/access/all",
        "POST /clients",
        f"GET /clients/{world.status['clientId']}/jwks",
        f"POST /clients/{world.status['clientId']}/jwks",
    ]
    assert world.calls() == []
    assert condition(again, READY)["status"] == "True"
    assert reasons(again) == []


async def test_a_restart_between_create_and_status_write_finds_the_same_client(
    world: ManagedWorld,
) -> None:
    await world.reconcile()
    client_id = world.status.pop("clientId")  # the status write never happened
    world.restart()

    outcome = await world.reconcile()

    assert condition(outcome, READY)["status"] == "True"
    assert [c["client_id"] for c in world.our_clients()] == [client_id]
    assert world.status["clientId"] == client_id
    assert Reason.CLIENT_CREATED not in reasons(outcome)


async def test_the_client_in_the_status_is_kept_when_its_description_was_edited(
    world: ManagedWorld,
) -> None:
    await world.reconcile()
    client_id = world.status["clientId"]
    api = world.deps.self_service
    assert api is not None
    await api.update_client(client_id, ClientRegistration("team/weather", "edited", (SCOPE,)))
    world.restart()
    world.observe_from_here()

    outcome = await world.reconcile()

    assert condition(outcome, READY)["status"] == "True"
    assert world.status["clientId"] == client_id
    assert "POST /clients" not in world.calls()


async def test_after_a_restart_the_client_is_checked_with_two_calls(world: ManagedWorld) -> None:
    await world.reconcile()
    world.restart()
    world.observe_from_here()

    await world.reconcile()

    client_id = world.status["clientId"]
    assert world.calls() == [f"GET /clients/{client_id}", f"GET /clients/{client_id}/jwks"]


async def test_the_cluster_name_and_resource_identify_the_client_in_its_description(
    world: ManagedWorld,
) -> None:
    world.deps.settings = world.deps.settings.model_copy(update={"cluster_name": "prod-a"})

    await world.reconcile()

    [document] = world.our_clients("maskinporten-operator:prod-a/team/weather")
    assert document["client_id"] == world.status["clientId"]


# --- scopes ---------------------------------------------------------------------------------


async def test_a_scope_change_updates_the_client_with_two_calls(world: ManagedWorld) -> None:
    await world.reconcile()
    world.observe_from_here()
    world.spec = {"scopes": {"consumes": [{"name": SCOPE}, {"name": OTHER_SCOPE}]}}

    outcome = await world.reconcile()

    client_id = world.status["clientId"]
    assert condition(outcome, READY)["status"] == "True"
    document = world.selfservice.client_document(client_id)
    assert document is not None
    assert sorted(document["scopes"]) == [SCOPE, OTHER_SCOPE]
    assert world.calls() == ["GET /scopes/access/all", f"PUT /clients/{client_id}"]
    assert Reason.SCOPES_UPDATED in reasons(outcome)


async def test_a_scope_the_organisation_lacks_is_named_and_the_client_left_unchanged(
    world: ManagedWorld,
) -> None:
    await world.reconcile()
    world.observe_from_here()
    world.spec = {"scopes": {"consumes": [{"name": SCOPE}, {"name": NOT_GRANTED}]}}

    outcome = await world.reconcile()

    registered = condition(outcome, CLIENT_REGISTERED)
    assert condition(outcome, READY)["status"] == "False"
    assert (registered["status"], registered["reason"]) == ("False", Reason.SCOPE_NOT_ACCESSIBLE)
    assert NOT_GRANTED in registered["message"]
    assert SCOPE not in registered["message"].replace(NOT_GRANTED, "")
    assert world.selfservice.client_document(world.status["clientId"])["scopes"] == [SCOPE]  # type: ignore[index]
    assert world.calls() == ["GET /scopes/access/all"]


async def test_no_client_is_created_with_a_scope_the_organisation_lacks(
    world: ManagedWorld,
) -> None:
    world.spec = {"scopes": {"consumes": [{"name": NOT_GRANTED}]}}

    outcome = await world.reconcile()

    assert condition(outcome, READY)["reason"] == Reason.SCOPE_NOT_ACCESSIBLE
    assert world.our_clients() == []
    assert "clientId" not in world.status


@pytest.mark.parametrize(
    ("policy", "refused"),
    [
        ("team=test:write", [SCOPE]),
        ("other-*=test:*", [SCOPE]),
        ("team-a=test:*;t*=nothing:*", [SCOPE]),
    ],
)
async def test_a_scope_refused_by_the_policy_names_it_and_sends_nothing_to_digdir(
    world: ManagedWorld, policy: str, refused: list[str]
) -> None:
    world.set_policy(policy)

    outcome = await world.reconcile()

    ready = condition(outcome, READY)
    assert ready["reason"] == Reason.SCOPE_REFUSED_BY_POLICY
    assert all(scope in ready["message"] for scope in refused)
    assert "MASKINPORTEN_OPERATOR_MANAGED_SCOPE_POLICY" in ready["message"]
    assert world.calls() == []


@pytest.mark.parametrize("policy", ["team=test:*", "t*=test:read,nav:*", "x=a:b;team=test:read"])
async def test_a_scope_the_policy_allows_is_registered(world: ManagedWorld, policy: str) -> None:
    world.set_policy(policy)

    outcome = await world.reconcile()

    assert condition(outcome, READY)["status"] == "True"


# --- keys -----------------------------------------------------------------------------------


async def test_a_new_client_says_its_registration_is_propagating_until_the_key_is_accepted(
    world: ManagedWorld,
) -> None:
    world.selfservice.set_propagation_delay(60)

    propagating = await world.reconcile()
    [pending] = world.status["keys"]
    world.advance(61)
    ready = await world.reconcile()

    assert condition(propagating, READY)["reason"] == Reason.REGISTRATION_PROPAGATING
    assert "up to about 2 minutes" in condition(propagating, READY)["message"]
    assert condition(propagating, CLIENT_REGISTERED)["status"] == "True"
    assert pending["state"] == "Pending"
    assert condition(ready, READY)["status"] == "True"
    assert world.status["keys"][0]["state"] == "Active"


async def test_a_key_is_renewed_thirty_days_before_its_registration_expires(
    world: ManagedWorld,
) -> None:
    world.spec = {**SPEC, "registration": {"keyRotationDays": 365}}
    await world.reconcile()
    client_id = world.status["clientId"]
    first_expiry = world.status["keys"][0]["expiresAt"]
    world.advance(334 * DAY)
    world.observe_from_here()
    quiet = await world.reconcile()
    world.advance(2 * DAY)

    renewed = await world.reconcile()

    assert Reason.KEY_REGISTERED not in reasons(quiet)
    assert Reason.KEY_REGISTERED in reasons(renewed)
    assert f"POST /clients/{client_id}/jwks" in world.calls()
    assert world.status["keys"][0]["expiresAt"] > first_expiry
    assert world.status["keys"][0]["state"] == "Active"
    assert condition(renewed, READY)["status"] == "True"


# --- rotation -------------------------------------------------------------------------------

ROTATE = "maskinporten-operator.dev/rotate-key"


def key_ring_in_secret(world: ManagedWorld) -> list[str]:
    """The kids of the private keys the key Secret holds."""
    data = world.kube.secret_data(NAMESPACE, "weather-maskinporten-key")
    return [key["kid"] for key in json.loads(data["jwks"])["keys"]] if "jwks" in data else []


def states(world: ManagedWorld) -> list[tuple[str, str]]:
    return [(key["kid"], key["state"]) for key in world.status["keys"]]


async def test_a_rotation_switches_keys_only_once_the_new_one_is_accepted(
    world: ManagedWorld,
) -> None:
    await world.reconcile()
    old = world.status["keyId"]
    client_id = world.status["clientId"]
    world.selfservice.set_propagation_delay(60)
    world.observe_from_here()
    world.annotations[ROTATE] = "now"

    propagating = await world.reconcile()
    [new] = [kid for kid in key_ring_in_secret(world) if kid != old]
    registered_during = world.registered_kids(client_id)
    token_during = world.kube.secret_data(NAMESPACE, WORKLOAD_SECRET)["MASKINPORTEN_ACCESS_TOKEN"]
    world.advance(61)
    rotated = await world.reconcile()

    assert condition(propagating, READY)["status"] == "True"
    assert "propagating" in condition(propagating, CLIENT_REGISTERED)["message"]
    assert states(world) == [(old, "Retiring"), (new, "Active")]
    assert registered_during == [old, new]
    assert token_during  # the current token stays while the new key propagates
    assert world.status["keyId"] == new
    assert Reason.KEY_ROTATED in reasons(rotated)
    assert world.status["handledRotateKey"] == "now"
    assert world.kube.secret_data(NAMESPACE, "weather-maskinporten-key")["jwk"] != ""
    assert world.maskinporten.requests()[-1].status == 200


async def test_a_pending_key_reaches_the_workload_secret_only_once_accepted(
    world: ManagedWorld,
) -> None:
    world.spec = {**SPEC, "includeClientJwk": True}
    await world.reconcile()
    old = world.status["keyId"]
    world.selfservice.set_propagation_delay(60)
    world.annotations[ROTATE] = "now"
    await world.reconcile()
    world.advance(30)
    await world.reconcile()
    world.advance(31)

    await world.reconcile()

    new = world.status["keyId"]
    assert new != old
    assert world.client_jwk_kids_written() == [old, new]


async def test_a_pending_key_refused_past_the_propagation_window_is_retried_with_back_off(
    world: ManagedWorld,
) -> None:
    world.maskinporten.registry.default_lifetime = 3600  # token refreshes do not mask key work
    base = world.deps.settings.retry_base_seconds
    await world.reconcile()
    world.selfservice.set_propagation_delay(10 * 3600)
    world.annotations[ROTATE] = "now"
    await world.reconcile()
    world.advance(DIGDIR_PROPAGATION_SECONDS + 600)
    first = await world.reconcile()
    world.advance(first.next_attempt_at - world.clock.now())

    second = await world.reconcile()

    registered = condition(second, CLIENT_REGISTERED)
    assert registered["status"] == "True"
    assert "tried again with back-off" in registered["message"]
    assert second.next_attempt_at - world.clock.now() > base


async def test_a_retired_key_is_removed_once_its_tokens_have_expired(world: ManagedWorld) -> None:
    world.spec = {**SPEC, "registration": {"accessTokenLifetimeSeconds": 120}}
    await world.reconcile()
    old = world.status["keyId"]
    client_id = world.status["clientId"]
    world.annotations[ROTATE] = "now"
    await world.reconcile()  # no propagation delay: the new key is accepted at once
    new = world.status["keyId"]
    world.observe_from_here()
    world.advance(119)
    kept = await world.reconcile()
    world.advance(2)

    removed = await world.reconcile()

    assert Reason.KEY_REMOVED not in reasons(kept)
    assert Reason.KEY_REMOVED in reasons(removed)
    assert world.registered_kids(client_id) == [new]
    assert key_ring_in_secret(world) == [new]
    assert states(world) == [(new, "Active")]
    assert old != new
    assert world.calls() == [f"GET /clients/{client_id}/jwks", f"POST /clients/{client_id}/jwks"]


async def test_a_rotation_takes_two_key_set_reads_each_before_a_post(world: ManagedWorld) -> None:
    await world.reconcile()
    client_id = world.status["clientId"]
    world.observe_from_here()
    world.annotations[ROTATE] = "now"

    await world.reconcile()
    world.advance(3600)
    await world.reconcile()

    read_then_post = [f"GET /clients/{client_id}/jwks", f"POST /clients/{client_id}/jwks"]
    assert world.calls() == read_then_post * 2


async def test_keys_rotate_after_key_rotation_days(world: ManagedWorld) -> None:
    world.spec = {**SPEC, "registration": {"keyRotationDays": 30}}
    await world.reconcile()
    old = world.status["keyId"]
    world.advance(29 * DAY)
    early = await world.reconcile()
    world.advance(DAY)

    due = await world.reconcile()

    assert Reason.KEY_ROTATED not in reasons(early)
    assert Reason.KEY_ROTATED in reasons(due)
    assert world.status["keyId"] != old


async def test_the_same_rotate_request_rotates_once(world: ManagedWorld) -> None:
    await world.reconcile()
    world.annotations[ROTATE] = "once"
    await world.reconcile()
    after_first = world.status["keyId"]

    again = await world.reconcile()

    assert Reason.KEY_ROTATED not in reasons(again)
    assert world.status["keyId"] == after_first


async def test_a_rotate_request_is_not_handled_again_from_a_status_read_back_late(
    world: ManagedWorld,
) -> None:
    """The status the next reconciliation reads comes through the watch, which can lag behind
    the operator's own write of ``handledRotateKey``."""
    await world.reconcile()
    world.annotations[ROTATE] = "once"
    await world.reconcile()
    after_first = world.status["keyId"]
    del world.status["handledRotateKey"]  # the watch has not delivered that write yet

    again = await world.reconcile()

    assert Reason.KEY_ROTATED not in reasons(again)
    assert world.status["keyId"] == after_first
    assert world.status["handledRotateKey"] == "once"


async def test_a_rotation_keeps_the_keys_the_operator_did_not_add(
    world: ManagedWorld, client_key: ClientKey
) -> None:
    world.selfservice.register_client(
        Client("hand-made", ORG, frozenset({SCOPE}), (RegisteredKey(client_key.public_jwk()),)),
        description="the portal",
    )
    world.spec = {**SPEC, "clientId": "hand-made", "registration": {"adopt": True}}
    await world.reconcile()
    world.annotations[ROTATE] = "now"
    await world.reconcile()
    world.advance(3600)

    await world.reconcile()

    assert world.registered_kids("hand-made") == [client_key.kid, world.status["keyId"]]


async def test_a_rotation_keeps_a_key_registered_by_hand_after_the_operator_registered(
    world: ManagedWorld, client_key: ClientKey
) -> None:
    await world.reconcile()
    client_id = world.status["clientId"]
    api = world.deps.self_service
    assert api is not None
    registered = await api.get_jwks(client_id)
    await api.replace_jwks(
        client_id, [*(entry.jwk for entry in registered.keys), client_key.public_jwk()]
    )
    world.annotations[ROTATE] = "now"
    await world.reconcile()
    world.advance(3600)

    await world.reconcile()

    assert world.registered_kids(client_id) == [client_key.kid, world.status["keyId"]]


async def test_a_rotation_without_room_in_the_key_set_is_skipped_and_tokens_keep_coming(
    world: ManagedWorld,
) -> None:
    hand_keys = [generate_client_key() for _ in range(4)]
    world.selfservice.register_client(
        Client(
            "hand-made",
            ORG,
            frozenset({SCOPE}),
            keys=tuple(RegisteredKey(key.public_jwk()) for key in hand_keys),
        ),
        description="the portal",
    )
    world.spec = {**SPEC, "clientId": "hand-made", "registration": {"adopt": True}}
    await world.reconcile()
    signing = world.status["keyId"]
    world.annotations[ROTATE] = "now"
    world.advance(3600)

    outcome = await world.reconcile()

    assert condition(outcome, READY)["status"] == "True", condition(outcome, READY)["message"]
    registered = condition(outcome, CLIENT_REGISTERED)
    assert "rotation is due but skipped" in registered["message"]
    assert world.status["keyId"] == signing
    assert key_ring_in_secret(world) in ([], [signing])
    assert world.registered_kids("hand-made") == [*(key.kid for key in hand_keys), signing]


async def test_a_rotation_counts_keys_registered_by_hand_since_the_last_read_for_room(
    world: ManagedWorld,
) -> None:
    await world.reconcile()
    client_id = world.status["clientId"]
    signing = world.status["keyId"]
    hand_keys = [generate_client_key() for _ in range(4)]
    api = world.deps.self_service
    assert api is not None
    registered = await api.get_jwks(client_id)
    await api.replace_jwks(
        client_id, [*(entry.jwk for entry in registered.keys), *(k.public_jwk() for k in hand_keys)]
    )
    world.annotations[ROTATE] = "now"
    world.advance(3600)

    outcome = await world.reconcile()

    assert condition(outcome, READY)["status"] == "True", condition(outcome, READY)["message"]
    assert "rotation is due but skipped" in condition(outcome, CLIENT_REGISTERED)["message"]
    assert world.status["keyId"] == signing
    assert world.registered_kids(client_id) == [signing, *(key.kid for key in hand_keys)]


# --- key Secret ---------------------------------------------------------------------------


async def test_a_key_secret_name_naming_a_users_secret_is_refused_and_the_secret_kept(
    world: ManagedWorld, client_key: ClientKey
) -> None:
    users = {"jwk": client_key.private_jwk_json(), "password": "kept"}
    world.kube.put_secret(NAMESPACE, "users-own", users)
    world.spec = {**SPEC, "key": {"secretName": "users-own"}}
    await world.reconcile()
    world.annotations[ROTATE] = "now"

    outcome = await world.reconcile()

    assert condition(outcome, READY)["reason"] == Reason.SECRET_CONFLICT
    assert "users-own" in condition(outcome, READY)["message"]
    assert world.kube.secret_data(NAMESPACE, "users-own") == users


async def test_a_key_secret_name_naming_another_resources_key_secret_is_refused(
    world: ManagedWorld,
) -> None:
    await world.reconcile()
    weathers = world.kube.secret(NAMESPACE, "weather-maskinporten-key")
    rain = world.another_resource(
        "rain", {**SPEC, "key": {"secretName": "weather-maskinporten-key"}}
    )
    await rain.reconcile()
    rain.annotations[ROTATE] = "now"

    outcome = await rain.reconcile()

    assert condition(outcome, READY)["reason"] == Reason.SECRET_CONFLICT
    assert "MaskinportenClient weather" in condition(outcome, READY)["message"]
    assert world.kube.secret(NAMESPACE, "weather-maskinporten-key") == weathers


# --- adopt ----------------------------------------------------------------------------------


async def test_an_adopted_client_keeps_its_hand_registered_keys(
    world: ManagedWorld, client_key: ClientKey
) -> None:
    world.selfservice.register_client(
        Client(
            "hand-made", ORG, frozenset({SCOPE}), keys=(RegisteredKey(client_key.public_jwk()),)
        ),
        client_name="made by hand",
        description="the portal",
    )
    world.spec = {
        "clientId": "hand-made",
        "scopes": {"consumes": [{"name": SCOPE}, {"name": OTHER_SCOPE}]},
        "registration": {"adopt": True},
    }

    outcome = await world.reconcile()

    assert condition(outcome, READY)["status"] == "True"
    assert world.registered_kids("hand-made") == [client_key.kid, world.status["keyId"]]
    document = world.selfservice.client_document("hand-made")
    assert document is not None
    assert (document["client_name"], document["description"]) == ("made by hand", "the portal")
    assert sorted(document["scopes"]) == [SCOPE, OTHER_SCOPE]
    assert Reason.CLIENT_ADOPTED in reasons(outcome)


async def test_a_key_registered_by_hand_without_use_gets_use_sig_and_one_event(
    world: ManagedWorld, client_key: ClientKey
) -> None:
    before_may_2025 = {k: v for k, v in client_key.public_jwk().items() if k != "use"}
    world.selfservice.register_client(
        Client("hand-made", ORG, frozenset({SCOPE}), keys=(RegisteredKey(before_may_2025),))
    )
    world.spec = {**SPEC, "clientId": "hand-made", "registration": {"adopt": True}}

    outcome = await world.reconcile()

    assert condition(outcome, READY)["status"] == "True"
    registered = (world.selfservice.jwks_document("hand-made") or {})["keys"]
    assert [key["use"] for key in registered if key["kid"] == client_key.kid] == ["sig"]
    [added] = [event for event in outcome.events if event.reason is Reason.KEY_USE_ADDED]
    assert added.type == EventType.NORMAL
    assert client_key.kid in added.message


async def test_keys_the_operator_did_not_add_are_listed_after_its_own_as_external(
    world: ManagedWorld, client_key: ClientKey
) -> None:
    world.selfservice.register_client(
        Client(
            "hand-made", ORG, frozenset({SCOPE}), keys=(RegisteredKey(client_key.public_jwk()),)
        ),
        description="the portal",
    )
    world.spec = {**SPEC, "clientId": "hand-made", "registration": {"adopt": True}}

    await world.reconcile()

    assert states(world) == [(world.status["keyId"], "Active"), (client_key.kid, "External")]
    [jwks_entry] = [
        key
        for key in (world.selfservice.jwks_document("hand-made") or {})["keys"]
        if key["kid"] == client_key.kid
    ]
    assert world.status["keys"][1]["expiresAt"] == format_time(jwks_entry["exp"])


async def test_adopting_a_client_that_does_not_exist_says_so(world: ManagedWorld) -> None:
    world.spec = {**SPEC, "clientId": "nowhere", "registration": {"adopt": True}}

    outcome = await world.reconcile()

    assert condition(outcome, READY)["reason"] == Reason.CLIENT_CONFLICT
    assert "nowhere" in condition(outcome, READY)["message"]


# --- admin credential -----------------------------------------------------------------------


async def test_without_an_admin_credential_the_message_says_what_to_configure(
    world: ManagedWorld,
) -> None:
    world.deps.self_service = None

    outcome = await world.reconcile()

    ready = condition(outcome, READY)
    assert ready["reason"] == Reason.SELF_SERVICE_NOT_CONFIGURED
    assert "MASKINPORTEN_OPERATOR_SELF_SERVICE_CREDENTIALS" in ready["message"]
    assert condition(outcome, CLIENT_REGISTERED)["reason"] == Reason.SELF_SERVICE_NOT_CONFIGURED


async def test_an_unusable_admin_credential_secret_says_what_to_put_in_it(
    world: ManagedWorld,
) -> None:
    world.kube.put_secret(*ADMIN_SECRET, {"tls.key": world.admin_credential["tls.key"]})

    outcome = await world.reconcile()

    ready = condition(outcome, READY)
    assert ready["reason"] == Reason.SELF_SERVICE_NOT_CONFIGURED
    assert "operator/admin" in ready["message"]
    assert "'clientId'" in ready["message"]
    assert condition(outcome, CLIENT_REGISTERED)["reason"] == Reason.SELF_SERVICE_NOT_CONFIGURED


async def test_an_admin_credential_fixed_later_makes_the_client_ready_without_a_restart(
    world: ManagedWorld,
) -> None:
    world.kube.put_secret(*ADMIN_SECRET, {})
    refused = await world.reconcile()
    world.kube.put_secret(*ADMIN_SECRET, world.admin_credential)
    world.advance(refused.next_attempt_at - world.clock.now())

    outcome = await world.reconcile()

    assert condition(refused, READY)["reason"] == Reason.SELF_SERVICE_NOT_CONFIGURED
    assert condition(outcome, READY)["status"] == "True", condition(outcome, READY)["message"]
    assert len(world.our_clients()) == 1


async def test_a_missing_admin_credential_is_one_condition_and_one_event_across_retries(
    world: ManagedWorld,
) -> None:
    world.kube.put_secret(*ADMIN_SECRET, {})
    first = await world.reconcile()
    world.advance(first.next_attempt_at - world.clock.now())

    second = await world.reconcile()

    assert reasons(first) == [Reason.KEY_GENERATED, Reason.SELF_SERVICE_NOT_CONFIGURED]
    assert reasons(second) == []
    assert condition(second, READY)["message"] == condition(first, READY)["message"]
    assert world.status["consecutiveFailures"] == 2


async def test_a_refused_admin_token_is_one_clear_condition(world: ManagedWorld) -> None:
    world.maskinporten.registry.clients.pop(f"selfservice-admin-{ORG}")

    outcome = await world.reconcile()

    ready = condition(outcome, READY)
    assert ready["reason"] == Reason.ADMIN_TOKEN_REJECTED
    assert "self-service admin token" in ready["message"]


async def test_self_service_errors_back_off_like_token_errors(world: ManagedWorld) -> None:
    world.selfservice.fail_next(10, status=503)

    first = await world.reconcile()
    second = await world.reconcile()

    assert condition(first, READY)["reason"] == Reason.SELF_SERVICE_UNAVAILABLE
    assert world.status["consecutiveFailures"] == 2
    assert (second.next_attempt_at - START) > (first.next_attempt_at - START) / 2


async def test_tokens_keep_coming_while_the_self_service_api_is_down(world: ManagedWorld) -> None:
    await world.reconcile()
    token_before = world.kube.secret_data(NAMESPACE, WORKLOAD_SECRET)["MASKINPORTEN_ACCESS_TOKEN"]
    world.restart()  # what the operator remembered is gone: registration needs the API
    world.selfservice.fail_next(10, status=503)
    world.advance(3600)

    outcome = await world.reconcile()

    token_after = world.kube.secret_data(NAMESPACE, WORKLOAD_SECRET)["MASKINPORTEN_ACCESS_TOKEN"]
    assert condition(outcome, READY)["status"] == "True", condition(outcome, READY)["message"]
    registered = condition(outcome, CLIENT_REGISTERED)
    assert (registered["status"], registered["reason"]) == (
        "False",
        Reason.SELF_SERVICE_UNAVAILABLE,
    )
    assert "tokens are still requested" in registered["message"]
    assert token_after != token_before
    assert world.maskinporten.requests()[-1].status == 200


async def test_a_new_client_gets_no_token_while_the_self_service_api_is_down(
    world: ManagedWorld,
) -> None:
    world.selfservice.fail_next(10, status=503)

    outcome = await world.reconcile()

    assert condition(outcome, READY)["reason"] == Reason.SELF_SERVICE_UNAVAILABLE
    assert "MASKINPORTEN_ACCESS_TOKEN" not in world.kube.secret_data(NAMESPACE, WORKLOAD_SECRET)


# --- unexpected errors ----------------------------------------------------------------------


async def broken(*_: object, **__: object) -> None:
    raise RuntimeError("a bug")


async def test_an_unexpected_error_before_registration_keeps_client_registered_as_it_was(
    world: ManagedWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await world.reconcile()
    before = condition(first, CLIENT_REGISTERED)
    monkeypatch.setattr(world.kube, "get_watched_secret", broken)
    world.advance(3600)

    outcome = await world.reconcile()

    assert condition(outcome, READY)["reason"] == Reason.INTERNAL_ERROR
    assert condition(outcome, CLIENT_REGISTERED) == before


async def test_an_unexpected_error_after_registration_keeps_what_the_registration_did(
    world: ManagedWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert world.deps.self_service is not None
    await world.deps.self_service.list_clients()  # the admin token is at hand
    monkeypatch.setattr(world.deps.auth, "metadata", broken)

    outcome = await world.reconcile()

    client = world.selfservice.client_document(world.status.get("clientId", ""))
    assert condition(outcome, READY)["reason"] == Reason.INTERNAL_ERROR
    assert condition(outcome, CLIENT_REGISTERED)["reason"] == Reason.REGISTERED
    assert client is not None
    assert client["description"] == DESCRIPTION
    assert Reason.CLIENT_CREATED in reasons(outcome)


# --- delete ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("registration_spec", "deleted"),
    [({}, True), ({"deletionPolicy": "Delete"}, True), ({"deletionPolicy": "Retain"}, False)],
)
async def test_deleting_the_resource_deletes_the_client_it_created_by_policy(
    world: ManagedWorld, registration_spec: dict[str, Any], deleted: bool
) -> None:
    world.spec = {**SPEC, "registration": registration_spec}
    await world.reconcile()
    client_id = world.status["clientId"]

    event = await world.delete_client()

    assert (world.selfservice.client_document(client_id) is None) == deleted
    assert (event is not None and event.reason == Reason.CLIENT_DELETED) == deleted


async def test_an_adopted_client_is_never_deleted(world: ManagedWorld) -> None:
    world.selfservice.register_client(
        Client("hand-made", ORG, frozenset({SCOPE})), description="the portal"
    )
    world.spec = {**SPEC, "clientId": "hand-made", "registration": {"adopt": True}}
    await world.reconcile()

    event = await world.delete_client()

    assert event is None
    assert world.selfservice.client_document("hand-made") is not None


async def test_a_deletion_without_the_admin_credential_says_the_client_stays(
    world: ManagedWorld,
) -> None:
    await world.reconcile()
    client_id = world.status["clientId"]
    world.deps.self_service = None

    event = await world.delete_client()

    assert event is not None
    assert (event.type, event.reason) == ("Warning", Reason.SELF_SERVICE_NOT_CONFIGURED)
    assert client_id in event.message
    assert world.selfservice.client_document(client_id) is not None


def election(*, leading: bool) -> SimpleNamespace:
    return SimpleNamespace(elector=SimpleNamespace(is_leading=lambda: leading))


class GoneClient:
    """The Kubernetes API as a standby sees it once the leader has finished the deletion."""

    async def get_client(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None


async def delete_handled(
    world: ManagedWorld, *, retry: int, runtime: float, leading: bool = True
) -> None:
    """The delete handler, at its ``retry``-th retry, ``runtime`` seconds after the first
    attempt."""
    body = kopf.Body(
        {
            "metadata": {"name": NAME, "namespace": NAMESPACE, "uid": REF.uid, "generation": 1},
            "spec": dict(world.spec),
            "status": world.status,
        }
    )
    await handlers.delete_managed_client(
        body=body,
        name=NAME,
        namespace=NAMESPACE,
        uid=REF.uid,
        retry=retry,
        runtime=timedelta(seconds=runtime),
        # the only parts of the memo it reads
        memo=SimpleNamespace(
            deps=world.deps, election=election(leading=leading), kube=GoneClient()
        ),
    )


async def deletion_retry_requested(world: ManagedWorld, *, retry: int, runtime: float) -> float:
    """The delay the delete handler asks kopf for when the deletion fails at its ``retry``-th
    retry, ``runtime`` seconds after the first attempt."""
    with pytest.raises(kopf.TemporaryError) as raised:
        await delete_handled(world, retry=retry, runtime=runtime)
    assert raised.value.delay is not None
    return raised.value.delay


async def test_a_standby_leaves_the_deletion_to_the_leader(world: ManagedWorld) -> None:
    """No request to Digdir and no error for kopf to retry (kopf would write its retry state on
    the resource): the handler ends once the leader is done, here with the resource gone."""
    await world.reconcile()
    deletions_before = world.selfservice.request_count()

    await delete_handled(world, retry=0, runtime=0, leading=False)

    assert world.selfservice.request_count() == deletions_before
    assert world.selfservice.client_document(world.status["clientId"]) is not None


async def test_a_failing_deletion_is_retried_with_growing_back_off(world: ManagedWorld) -> None:
    await world.reconcile()
    world.selfservice.fail_next(100, status=503)
    base = world.deps.settings.retry_base_seconds
    delays: list[float] = []

    for retry in range(10):
        delays.append(await deletion_retry_requested(world, retry=retry, runtime=sum(delays)))

    assert delays[0] == base
    assert all(later >= earlier * 0.9 for earlier, later in itertools.pairwise(delays))
    assert delays[-1] > 4 * base
    assert world.selfservice.client_document(world.status["clientId"]) is not None


async def test_a_deletion_failing_for_long_waits_at_most_the_retry_maximum(
    world: ManagedWorld,
) -> None:
    await world.reconcile()
    world.selfservice.fail_next(1, status=503)
    longest = world.deps.settings.retry_max_seconds

    delay = await deletion_retry_requested(world, retry=30, runtime=DAY)

    assert 0.9 * longest <= delay <= longest


async def test_a_deletion_with_an_unusable_admin_credential_is_retried_not_given_up(
    world: ManagedWorld,
) -> None:
    await world.reconcile()
    client_id = world.status["clientId"]
    world.kube.put_secret(*ADMIN_SECRET, {})
    world.advance(3600)  # the admin token cached meanwhile has expired

    with pytest.raises(Failure) as failed:
        await world.delete_client()

    assert failed.value.reason is Reason.SELF_SERVICE_NOT_CONFIGURED
    assert "operator/admin" in str(failed.value)
    assert world.selfservice.client_document(client_id) is not None
