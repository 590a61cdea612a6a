"""One reconciliation at a time, fast: the reconcile core against the in-memory Kubernetes API
and the real authorization server client talking to the Maskinporten stand-in on this loop
(the harness is :mod:`tests.unit.world`), for a client registered by hand.

In the style of cert-manager's TestProcessItem: a case is a starting state (spec, Secrets,
status, memory, server behaviour) and what one reconciliation makes of it (Ready, the next
attempt, Events, Secret writes, token requests). Time is a frozen clock shared by the operator
and the stand-in, so grants are checked against the same "now"; jitter is a seeded Random.
Nothing sleeps.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio

from maskinporten_operator.api import CLIENT_LABEL, FORCE_REFRESH_ANNOTATION, KEY_ID_ANNOTATION
from maskinporten_operator.credentials.keys import ClientKey
from maskinporten_operator.reasons import Reason
from maskinporten_operator.rfc3339 import format_time
from maskinporten_testbed.fakekube import FakeKube, Verb
from maskinporten_testbed.standin import Client, MaskinportenStandin, RegisteredKey
from maskinporten_testbed.testca import CertificateAuthority
from tests.helpers import ORG

from .world import (
    DAY,
    KEY_SECRET,
    NAMESPACE,
    OUTAGE_FRACTION,
    READY,
    REF,
    START,
    WORKLOAD_SECRET,
    HandRegisteredWorld,
    Outcome,
    condition,
    events_of,
    hand_registered_world,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


CLIENT_ID = "weather-client"
SCOPE = "test:read"
UNGRANTED = "test:write"
LIFETIME = 120
"""The tokens' lifetime: Maskinporten's default, which the stand-in issues unless told."""
BASE = 15.0
SPEC: Mapping[str, Any] = {"clientId": CLIENT_ID, "scopes": {"consumes": [{"name": SCOPE}]}}
TWO_TOKENS: Mapping[str, Any] = {
    "clientId": CLIENT_ID,
    "scopes": {"consumes": [{"name": SCOPE}, {"name": UNGRANTED}]},
    "tokens": [{"name": "read", "scopes": [SCOPE]}, {"name": "write", "scopes": [UNGRANTED]}],
}


@pytest_asyncio.fixture(loop_scope="module")
async def world(
    maskinporten: MaskinportenStandin, client_key: ClientKey
) -> AsyncIterator[HandRegisteredWorld]:
    async with hand_registered_world(
        maskinporten, client_key, SPEC, retry_base_seconds=BASE
    ) as world:
        yield world


# --- one reconciliation from a given state ------------------------------------------------------


async def nothing(world: HandRegisteredWorld) -> None:
    """No key Secret, nothing else: a MaskinportenClient just applied."""


async def registered_key(world: HandRegisteredWorld) -> None:
    world.put_registered_key()


async def ungranted_scope(world: HandRegisteredWorld) -> None:
    world.put_registered_key()
    world.spec = {"clientId": CLIENT_ID, "scopes": {"consumes": [{"name": UNGRANTED}]}}


async def server_error(world: HandRegisteredWorld) -> None:
    world.put_registered_key()
    world.maskinporten.fail_next(1, 503)


async def unreachable_issuer(world: HandRegisteredWorld) -> None:
    world.put_registered_key()
    await world.maskinporten.refuse_connections()


async def unreachable_kubernetes(world: HandRegisteredWorld) -> None:
    world.put_registered_key()
    world.kube.fail_next(1, 0)


async def invalid_spec(world: HandRegisteredWorld) -> None:
    world.spec = {"clientId": CLIENT_ID}


async def missing_existing_key(world: HandRegisteredWorld) -> None:
    world.spec = {**SPEC, "key": {"source": "Existing"}}


async def generated_key_lost(world: HandRegisteredWorld) -> None:
    world.status = {"keyId": "weather-2027-01"}


async def secret_name_taken(world: HandRegisteredWorld) -> None:
    world.put_registered_key()
    world.kube.put_secret(NAMESPACE, WORKLOAD_SECRET, {"config": "someone else's"})


async def one_of_two_tokens_refused(world: HandRegisteredWorld) -> None:
    world.put_registered_key()
    world.spec = TWO_TOKENS


@dataclass(frozen=True)
class Case:
    arrange: Callable[[HandRegisteredWorld], Awaitable[None]]
    ready: bool
    reason: Reason
    message: str
    """Part of the Ready message."""
    events: tuple[tuple[str, Reason], ...]
    secret_writes: tuple[tuple[Verb, str], ...]
    token_requests: int
    next_attempt_in: tuple[float, float]
    """Bounds of ``next_attempt_at`` from now, in seconds."""


REFRESH_IN = (LIFETIME / 2 * 0.9, LIFETIME / 2)
REJECTED = ("Warning", Reason.TOKEN_REQUEST_REJECTED)

CASES = [
    pytest.param(
        Case(
            nothing,
            ready=False,
            reason=Reason.TOKEN_REQUEST_REJECTED,
            message="MP-100",
            events=(("Normal", Reason.KEY_GENERATED), REJECTED),
            secret_writes=((Verb.CREATE, KEY_SECRET),),
            token_requests=1,
            next_attempt_in=(BASE, BASE),
        ),
        id="first-reconcile-generates-a-key-refused-with-maskinportens-code-until-registered",
    ),
    pytest.param(
        Case(
            registered_key,
            ready=True,
            reason=Reason.TOKEN_ISSUED,
            message=f"Secret {WORKLOAD_SECRET} holds a token",
            events=(("Normal", Reason.TOKEN_ISSUED),),
            secret_writes=((Verb.CREATE, WORKLOAD_SECRET),),
            token_requests=1,
            next_attempt_in=REFRESH_IN,
        ),
        id="registered-key-gets-a-token-into-the-workload-secret",
    ),
    pytest.param(
        Case(
            ungranted_scope,
            ready=False,
            reason=Reason.TOKEN_REQUEST_REJECTED,
            message=f"MP-201: Invalid scopes for client: {UNGRANTED}",
            events=(REJECTED,),
            secret_writes=(),
            token_requests=1,
            next_attempt_in=(BASE, BASE),
        ),
        id="scope-not-granted-is-rejected-with-maskinportens-code",
    ),
    pytest.param(
        Case(
            server_error,
            ready=False,
            reason=Reason.SERVER_ERROR,
            message="HTTP 503",
            events=(("Warning", Reason.SERVER_ERROR),),
            secret_writes=(),
            token_requests=1,
            next_attempt_in=(BASE, BASE),
        ),
        id="server-error-is-a-reason-not-an-exception",
    ),
    pytest.param(
        Case(
            unreachable_issuer,
            ready=False,
            reason=Reason.SERVER_UNREACHABLE,
            message=".well-known/oauth-authorization-server",
            events=(("Warning", Reason.SERVER_UNREACHABLE),),
            secret_writes=(),
            token_requests=0,
            next_attempt_in=(BASE, BASE),
        ),
        id="unreachable-issuer-metadata-is-a-reason-not-an-exception",
    ),
    pytest.param(
        Case(
            unreachable_kubernetes,
            ready=False,
            reason=Reason.KUBERNETES_API_ERROR,
            message="cannot reach the Kubernetes API",
            events=(("Warning", Reason.KUBERNETES_API_ERROR),),
            secret_writes=(),
            token_requests=0,
            next_attempt_in=(BASE, BASE),
        ),
        id="unreachable-kubernetes-api",
    ),
    pytest.param(
        Case(
            invalid_spec,
            ready=False,
            reason=Reason.INVALID_SPEC,
            message="spec.scopes",
            events=(("Warning", Reason.INVALID_SPEC),),
            secret_writes=(),
            token_requests=0,
            next_attempt_in=(BASE, BASE),
        ),
        id="invalid-spec-names-the-field",
    ),
    pytest.param(
        Case(
            missing_existing_key,
            ready=False,
            reason=Reason.KEY_SECRET_MISSING,
            message=f"key Secret {NAMESPACE}/{KEY_SECRET} not found",
            events=(("Warning", Reason.KEY_SECRET_MISSING),),
            secret_writes=(),
            token_requests=0,
            next_attempt_in=(BASE, BASE),
        ),
        id="existing-key-not-there-is-not-generated",
    ),
    pytest.param(
        Case(
            generated_key_lost,
            ready=False,
            reason=Reason.KEY_SECRET_MISSING,
            message="that held key weather-2027-01 is gone; no new key is generated",
            events=(("Warning", Reason.KEY_SECRET_MISSING),),
            secret_writes=(),
            token_requests=0,
            next_attempt_in=(BASE, BASE),
        ),
        id="generated-key-lost-is-not-replaced-behind-your-back",
    ),
    pytest.param(
        Case(
            secret_name_taken,
            ready=False,
            reason=Reason.SECRET_CONFLICT,
            message="choose another spec.secretName",
            events=(("Warning", Reason.SECRET_CONFLICT),),
            secret_writes=(),
            token_requests=1,
            next_attempt_in=(BASE, BASE),
        ),
        id="workload-secret-name-taken-by-another-secret",
    ),
    pytest.param(
        Case(
            one_of_two_tokens_refused,
            ready=False,
            reason=Reason.TOKEN_REQUEST_REJECTED,
            message="token 'write': ",
            events=(REJECTED,),
            secret_writes=((Verb.CREATE, WORKLOAD_SECRET),),
            token_requests=2,
            next_attempt_in=(BASE, BASE),
        ),
        id="one-of-two-tokens-refused-the-other-is-written",
    ),
]


@pytest.mark.parametrize("case", CASES)
async def test_one_reconciliation(world: HandRegisteredWorld, case: Case) -> None:
    await case.arrange(world)

    outcome = await world.reconcile()

    ready = condition(outcome, READY)
    assert (outcome.ready, ready["status"], ready["reason"]) == (
        case.ready,
        str(case.ready),
        case.reason,
    )
    assert case.message in ready["message"]
    assert events_of(outcome) == list(case.events)
    assert world.secret_writes == list(case.secret_writes)
    assert world.token_requests == case.token_requests
    low, high = case.next_attempt_in
    assert START + low <= outcome.next_attempt_at <= START + high


# --- what a reconciliation leaves behind --------------------------------------------------------


CONSENT = {
    "type": "urn:altinn:consent",
    "id": "0a7d59f8-8c62-4312-9fb4-62456664c96f",
    "from": "urn:altinn:person:identifier-no:05848998356",
}


async def test_a_consent_in_authorization_details_reaches_the_token(
    world: HandRegisteredWorld,
) -> None:
    world.put_registered_key()
    world.spec = {**SPEC, "authorizationDetails": [CONSENT]}

    outcome = await world.reconcile()

    assert condition(outcome, READY)["status"] == "True"
    token = world.workload_data["MASKINPORTEN_ACCESS_TOKEN"]
    claims = world.maskinporten.access_token_claims(token)
    assert claims is not None
    assert claims["authorization_details"] == [CONSENT]


async def test_an_authorization_details_type_the_issuer_does_not_declare_is_refused_unsent(
    world: HandRegisteredWorld,
) -> None:
    world.put_registered_key()
    world.spec = {**SPEC, "authorizationDetails": [{"type": "urn:example:payment"}]}

    outcome = await world.reconcile()

    ready = condition(outcome, READY)
    assert (ready["status"], ready["reason"]) == ("False", Reason.INVALID_SPEC)
    assert "urn:example:payment" in ready["message"]
    assert world.token_requests == 0


async def test_a_refused_token_request_is_counted_under_maskinportens_error_code(
    world: HandRegisteredWorld,
) -> None:
    await world.reconcile()  # the generated key is not registered: MP-100

    counted = world.token_requests_counted(
        result="failure", reason=Reason.TOKEN_REQUEST_REJECTED, code="MP-100"
    )
    assert counted == 1


async def test_a_generated_keys_public_jwk_is_in_the_status_for_registration(
    world: HandRegisteredWorld,
) -> None:
    await world.reconcile()

    key_secret = world.kube.secret(NAMESPACE, KEY_SECRET)
    assert key_secret is not None
    kid = key_secret["metadata"]["annotations"][KEY_ID_ANNOTATION]
    assert world.status["keyId"] == kid
    assert json.loads(world.status["publicJwk"]).items() >= {"kid": kid, "kty": "RSA"}.items()
    assert "d" not in json.loads(world.status["publicJwk"])


async def test_the_workload_secret_holds_the_token_and_the_maskinporten_settings(
    world: HandRegisteredWorld,
) -> None:
    world.put_registered_key()

    await world.reconcile()

    data = world.workload_data
    assert data["MASKINPORTEN_ACCESS_TOKEN"].count(".") == 2
    assert data["MASKINPORTEN_ACCESS_TOKEN_EXPIRES_AT"] == format_time(START + LIFETIME)
    assert data["MASKINPORTEN_CLIENT_ID"] == CLIENT_ID
    assert data["MASKINPORTEN_SCOPES"] == SCOPE
    assert data["MASKINPORTEN_ISSUER"] == world.maskinporten.issuer
    assert data["MASKINPORTEN_TOKEN_ENDPOINT"] == world.maskinporten.token_endpoint
    assert data["MASKINPORTEN_WELL_KNOWN_URL"] == world.maskinporten.metadata_url
    assert data["MASKINPORTEN_JWKS_URI"] == world.maskinporten.jwks_uri


async def test_one_token_refused_keeps_the_other_in_the_secret(world: HandRegisteredWorld) -> None:
    await one_of_two_tokens_refused(world)

    await world.reconcile()

    assert "MASKINPORTEN_ACCESS_TOKEN_READ" in world.workload_data
    assert "MASKINPORTEN_ACCESS_TOKEN_WRITE" not in world.workload_data


async def test_a_per_token_status_list_goes_when_the_spec_no_longer_names_tokens(
    world: HandRegisteredWorld,
) -> None:
    world.put_registered_key()
    world.spec = {**SPEC, "tokens": [{"name": "read", "scopes": [SCOPE]}]}
    await world.reconcile()
    assert [token["name"] for token in world.status["tokens"]] == ["read"]
    world.spec = SPEC

    await world.reconcile()

    assert "tokens" not in world.status


# --- the key ------------------------------------------------------------------------------------


async def test_an_unchanged_key_secret_is_parsed_only_once(
    world: HandRegisteredWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = world.key_parse_threads(monkeypatch)
    world.put_registered_key()

    for _ in range(3):
        await world.reconcile()
        world.advance(60)

    assert len(parsed) == 1


async def test_resources_reading_the_same_key_secret_share_one_parsed_key(
    world: HandRegisteredWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = world.key_parse_threads(monkeypatch)
    world.put_registered_key()
    shared_key = {**SPEC, "key": {"source": "Existing", "secretName": KEY_SECRET}}
    world.spec = shared_key
    rain = world.another_resource("rain", shared_key)

    await world.reconcile()
    await rain.reconcile()

    assert len(parsed) == 1
    assert rain.memory.key is world.memory.key


async def test_a_key_is_parsed_off_the_event_loop(
    world: HandRegisteredWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads = world.key_parse_threads(monkeypatch)
    world.put_registered_key()

    await world.reconcile()

    assert threads
    assert threading.get_ident() not in threads


async def test_a_changed_key_secret_is_read_again(world: HandRegisteredWorld) -> None:
    await world.reconcile()
    world.put_registered_key()

    outcome = await world.reconcile()

    assert world.status["keyId"] == world.key.kid
    assert outcome.ready


async def test_a_remembered_certificate_is_refused_once_it_expires(
    world: HandRegisteredWorld, ca: CertificateAuthority
) -> None:
    certificate = ca.issue(
        ORG,
        not_before=datetime.fromtimestamp(START - 30 * DAY, UTC),
        not_after=datetime.fromtimestamp(START + DAY, UTC),
    )
    pem = {"tls.key": certificate.private_key_pem(), "tls.crt": certificate.chain_pem()}
    world.kube.put_secret(NAMESPACE, KEY_SECRET, {k: v.decode() for k, v in pem.items()})
    await world.reconcile()
    world.advance(2 * DAY)

    outcome = await world.reconcile()

    assert condition(outcome, READY)["reason"] == Reason.KEY_INVALID
    assert "expired on" in condition(outcome, READY)["message"]


# --- the next reconciliation --------------------------------------------------------------------


async def ready_world(world: HandRegisteredWorld) -> Outcome:
    """A resource that got its token at START; counting starts afterwards."""
    world.put_registered_key()
    outcome = await world.reconcile()
    assert outcome.ready
    world.observe_from_here()
    return outcome


async def test_a_taken_secret_name_costs_one_token_request_not_one_per_retry(
    world: HandRegisteredWorld,
) -> None:
    await secret_name_taken(world)
    await world.reconcile()
    world.observe_from_here()
    world.advance(2 * LIFETIME)  # past the first token's refresh time and expiry

    outcome = await world.reconcile()

    assert world.token_requests == 0
    assert condition(outcome, READY)["reason"] == Reason.SECRET_CONFLICT


async def test_a_secret_name_freed_after_a_conflict_gets_the_workload_secret(
    world: HandRegisteredWorld,
) -> None:
    await secret_name_taken(world)
    await world.reconcile()
    world.kube.delete_secret(NAMESPACE, WORKLOAD_SECRET)

    outcome = await world.reconcile()

    assert outcome.ready
    assert "MASKINPORTEN_ACCESS_TOKEN" in world.workload_data


async def test_the_first_reconciliation_creates_the_workload_secret_without_reading_it(
    world: HandRegisteredWorld,
) -> None:
    world.put_registered_key(labels={CLIENT_LABEL: REF.name})

    await world.reconcile()

    assert (world.kube.reads, world.secret_writes) == (0, [(Verb.CREATE, WORKLOAD_SECRET)])


async def test_a_routine_refresh_with_a_labelled_key_secret_reads_no_secret(
    world: HandRegisteredWorld,
) -> None:
    world.put_registered_key(labels={CLIENT_LABEL: REF.name})
    first = await world.reconcile()
    world.observe_from_here()
    world.advance(first.next_attempt_at - START)

    await world.reconcile()

    assert (world.kube.reads, world.secret_writes) == (0, [(Verb.REPLACE, WORKLOAD_SECRET)])


async def test_retrying_a_token_that_keeps_failing_reads_no_secret(
    world: HandRegisteredWorld,
) -> None:
    world.put_registered_key(labels={CLIENT_LABEL: REF.name})
    world.spec = TWO_TOKENS
    first = await world.reconcile()
    world.observe_from_here()
    world.advance(first.next_attempt_at - START)

    await world.reconcile()

    assert (world.kube.reads, world.token_requests) == (0, 1)


async def test_a_restart_reads_no_secret_and_keeps_the_token(
    world: HandRegisteredWorld,
) -> None:
    world.put_registered_key(labels={CLIENT_LABEL: REF.name})
    await world.reconcile()
    world.restart()
    world.observe_from_here()

    await world.reconcile()

    assert (world.kube.reads, world.token_requests, world.secret_writes) == (0, 0, [])


async def test_leading_again_reads_the_key_and_the_token_from_the_api_server_once(
    world: HandRegisteredWorld,
) -> None:
    world.put_registered_key(labels={CLIENT_LABEL: REF.name})
    await world.reconcile()
    world.lead_again()
    world.observe_from_here()

    await world.reconcile()
    await world.reconcile()

    assert (world.kube.reads, world.token_requests, world.secret_writes) == (2, 0, [])


async def test_an_unlabelled_key_secret_is_read_from_the_api_server(
    world: HandRegisteredWorld,
) -> None:
    world.put_registered_key()
    first = await world.reconcile()
    world.observe_from_here()
    world.advance(first.next_attempt_at - START)

    await world.reconcile()

    assert world.kube.reads == 1


async def test_a_generated_key_secret_is_created_without_reading_it_first(
    world: HandRegisteredWorld,
) -> None:
    await world.reconcile()

    assert world.kube.reads == 0
    assert world.secret_writes[0] == (Verb.CREATE, KEY_SECRET)


async def test_an_unlabelled_secret_where_the_key_is_to_be_generated_is_read_not_overwritten(
    world: HandRegisteredWorld,
) -> None:
    world.put_registered_key()
    world.spec = {**SPEC, "key": {"source": "Generated"}}

    outcome = await world.reconcile()

    assert outcome.ready
    assert world.kube.secret_data(NAMESPACE, KEY_SECRET) == {"jwk": world.key.private_jwk_json()}


async def test_a_secret_name_that_is_also_the_default_key_secret_name_is_refused(
    world: HandRegisteredWorld,
) -> None:
    world.spec = {**SPEC, "secretName": KEY_SECRET, "key": {"deletionPolicy": "Delete"}}

    outcome = await world.reconcile()

    assert condition(outcome, READY)["reason"] == Reason.INVALID_SPEC
    assert "set spec.secretName or spec.key.secretName" in condition(outcome, READY)["message"]
    assert world.secret_writes == []


async def test_before_the_refresh_is_due_a_reconciliation_requests_and_writes_nothing(
    world: HandRegisteredWorld,
) -> None:
    first = await ready_world(world)
    world.advance(first.next_attempt_at - START - 1)

    outcome = await world.reconcile()

    assert (world.token_requests, world.secret_writes, outcome.events) == (0, [], ())
    assert outcome.next_attempt_at == first.next_attempt_at


async def test_once_the_refresh_is_due_a_new_token_replaces_the_old_without_an_event(
    world: HandRegisteredWorld,
) -> None:
    first = await ready_world(world)
    old_token = world.workload_data["MASKINPORTEN_ACCESS_TOKEN"]
    world.advance(first.next_attempt_at - START)

    outcome = await world.reconcile()

    assert world.token_requests == 1
    assert world.secret_writes == [(Verb.REPLACE, WORKLOAD_SECRET)]
    assert world.workload_data["MASKINPORTEN_ACCESS_TOKEN"] != old_token
    assert outcome.events == ()


async def test_a_forced_refresh_requests_a_new_token_before_the_refresh_is_due(
    world: HandRegisteredWorld,
) -> None:
    await ready_world(world)
    world.advance(10)
    world.annotations[FORCE_REFRESH_ANNOTATION] = "2027-01-15T10:00:00Z"

    outcome = await world.reconcile()

    assert world.token_requests == 1
    assert world.secret_writes == [(Verb.REPLACE, WORKLOAD_SECRET)]
    assert outcome.status["handledForceRefresh"] == "2027-01-15T10:00:00Z"


async def test_a_handled_forced_refresh_is_not_repeated(world: HandRegisteredWorld) -> None:
    await ready_world(world)
    world.annotations[FORCE_REFRESH_ANNOTATION] = "once"
    await world.reconcile()
    world.observe_from_here()
    world.advance(10)

    await world.reconcile()

    assert world.token_requests == 0


async def test_a_forced_refresh_is_not_repeated_from_a_status_read_back_late(
    world: HandRegisteredWorld,
) -> None:
    """The status the next reconciliation reads comes through the watch, which can lag behind
    the operator's own write of ``handledForceRefresh``."""
    await ready_world(world)
    world.annotations[FORCE_REFRESH_ANNOTATION] = "once"
    await world.reconcile()
    del world.status["handledForceRefresh"]  # the watch has not delivered that write yet
    world.observe_from_here()
    world.advance(10)

    outcome = await world.reconcile()

    assert world.token_requests == 0
    assert outcome.status["handledForceRefresh"] == "once"


async def test_after_a_restart_the_token_in_the_secret_is_reused(
    world: HandRegisteredWorld,
) -> None:
    await ready_world(world)
    world.advance(LIFETIME / 4)  # before the refresh is due
    world.restart()

    outcome = await world.reconcile()

    assert (world.token_requests, world.secret_writes) == (0, [])
    assert outcome.ready


async def test_after_a_restart_the_refresh_plan_and_the_status_are_unchanged(
    world: HandRegisteredWorld,
) -> None:
    first = await ready_world(world)
    world.advance(LIFETIME / 4)  # before the refresh is due
    world.restart()

    outcome = await world.reconcile()

    assert outcome.next_attempt_at == pytest.approx(first.next_attempt_at, abs=1.0)
    assert outcome.status["nextRefreshTime"] == first.status["nextRefreshTime"]


async def test_a_failed_refresh_keeps_the_valid_token_in_the_secret_and_says_until_when(
    world: HandRegisteredWorld,
) -> None:
    first = await ready_world(world)
    token = world.workload_data["MASKINPORTEN_ACCESS_TOKEN"]
    world.advance(first.next_attempt_at - START)
    world.maskinporten.fail_next(1, 503)

    outcome = await world.reconcile()

    assert condition(outcome, READY)["reason"] == Reason.SERVER_ERROR
    assert (
        f"stays in place until {format_time(START + LIFETIME)}"
        in (condition(outcome, READY)["message"])
    )
    assert world.workload_data["MASKINPORTEN_ACCESS_TOKEN"] == token
    assert world.secret_writes == []


async def test_an_expired_token_stays_in_the_secret_and_ready_says_when_it_expired(
    world: HandRegisteredWorld,
) -> None:
    await ready_world(world)
    token = world.workload_data["MASKINPORTEN_ACCESS_TOKEN"]
    world.advance(LIFETIME + 1)
    world.maskinporten.fail_next(1, 503)

    outcome = await world.reconcile()

    message = condition(outcome, READY)["message"]
    assert condition(outcome, READY)["reason"] == Reason.SERVER_ERROR
    assert f"the token in the Secret expired at {format_time(START + LIFETIME)}" in message
    assert world.workload_data["MASKINPORTEN_ACCESS_TOKEN"] == token
    assert outcome.status["tokenExpiresAt"] == format_time(START + LIFETIME)


async def test_the_same_failure_after_the_token_expired_posts_no_new_event(
    world: HandRegisteredWorld,
) -> None:
    first = await ready_world(world)
    world.advance(first.next_attempt_at - START)
    world.maskinporten.fail_next(2, 503)
    await world.reconcile()
    world.advance(LIFETIME)

    outcome = await world.reconcile()

    assert outcome.events == ()


async def test_back_off_starts_at_base_seconds_and_grows_with_the_time_spent_failing(
    world: HandRegisteredWorld,
) -> None:
    delays = []
    for _ in range(6):
        outcome = await world.reconcile()
        delays.append(outcome.next_attempt_at - world.clock.now())
        world.advance(delays[-1])

    assert delays[0] >= BASE
    assert all(later >= earlier for earlier, later in itertools.pairwise(delays))
    assert delays[-1] > delays[0]
    assert all(
        delay <= max(BASE, OUTAGE_FRACTION * sum(delays[:index]))
        for index, delay in enumerate(delays)
    )
    assert world.status["consecutiveFailures"] == 6


async def test_a_success_after_failures_resets_the_back_off(world: HandRegisteredWorld) -> None:
    await world.reconcile()
    world.kube.put_secret(NAMESPACE, KEY_SECRET, {"jwk": world.key.private_jwk_json()})

    outcome = await world.reconcile()

    assert outcome.ready
    assert world.status["consecutiveFailures"] == 0
    assert world.memory.failures.count == 0


# --- Events: one per state change ---------------------------------------------------------------


async def test_the_same_failure_again_posts_no_event(world: HandRegisteredWorld) -> None:
    world.put_registered_key()
    world.maskinporten.fail_next(2, 503)
    await world.reconcile()
    world.advance(BASE)

    outcome = await world.reconcile()

    assert condition(outcome, READY)["reason"] == Reason.SERVER_ERROR
    assert outcome.events == ()


async def test_a_failure_with_another_reason_posts_an_event(world: HandRegisteredWorld) -> None:
    world.put_registered_key()
    world.maskinporten.fail_next(1, 503)
    await world.reconcile()
    world.advance(BASE)
    await world.maskinporten.refuse_connections()

    outcome = await world.reconcile()

    assert events_of(outcome) == [("Warning", Reason.SERVER_UNREACHABLE)]


async def test_a_new_cause_of_failure_with_the_same_reason_posts_an_event(
    world: HandRegisteredWorld,
) -> None:
    world.put_registered_key()
    world.maskinporten.register_client(Client(CLIENT_ID, ORG, frozenset({SCOPE})))
    await world.reconcile()
    world.advance(BASE)
    registered = (RegisteredKey(world.key.public_jwk()),)
    world.maskinporten.register_client(Client(CLIENT_ID, ORG, frozenset(), keys=registered))

    outcome = await world.reconcile()

    assert events_of(outcome) == [REJECTED]
    assert "MP-201" in outcome.events[0].message


async def test_a_failure_keeping_its_cause_posts_no_event_when_another_token_is_refreshed(
    world: HandRegisteredWorld,
) -> None:
    await one_of_two_tokens_refused(world)
    await world.reconcile()
    refresh_at = world.memory.tokens["read"].plan.refresh_at
    world.advance(refresh_at - START)

    outcome = await world.reconcile()

    assert world.memory.tokens["read"].token.issued_at == refresh_at
    assert outcome.events == ()


async def test_a_failure_after_success_posts_a_warning(world: HandRegisteredWorld) -> None:
    first = await ready_world(world)
    world.advance(first.next_attempt_at - START)
    world.maskinporten.fail_next(1, 503)

    outcome = await world.reconcile()

    assert events_of(outcome) == [("Warning", Reason.SERVER_ERROR)]


async def test_recovery_after_a_failure_posts_token_issued(world: HandRegisteredWorld) -> None:
    world.put_registered_key()
    world.maskinporten.fail_next(1, 503)
    await world.reconcile()
    world.advance(BASE)

    outcome = await world.reconcile()

    assert events_of(outcome) == [("Normal", Reason.TOKEN_ISSUED)]


# --- the last resort ----------------------------------------------------------------------------


class LeakyKube(FakeKube):
    """A Kubernetes API that breaks with an exception whose text holds the Secret it was given."""

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> None:
        if body["metadata"]["name"] == WORKLOAD_SECRET:
            raise RuntimeError(f"cannot store {body}")
        await super().create_secret(namespace, body)


async def test_an_unexpected_exception_is_internal_error_and_no_secret_is_told(
    world: HandRegisteredWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world.use_kube(LeakyKube())
    world.put_registered_key()

    with caplog.at_level(logging.DEBUG):
        outcome = await world.reconcile()

    [slot] = world.memory.tokens.values()
    secrets = [slot.token.access_token, world.key.private_jwk_json()]
    secrets += [base64.b64encode(s.encode()).decode() for s in secrets]
    ready = condition(outcome, READY)
    assert (ready["status"], ready["reason"]) == ("False", Reason.INTERNAL_ERROR)
    told = [ready["message"], *(e.message for e in outcome.events), caplog.text]
    assert not [secret for secret in secrets for text in told if secret in text]
