"""Applying a reconciliation's outcome: the status patch only when something changed, the
Events, the log lines, and the per-resource gauges. Against the in-memory Kubernetes API; no
kopf."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

import pytest

from maskinporten_operator.adapters.metrics import Metrics
from maskinporten_operator.credentials.keys import ClientKey
from maskinporten_operator.ports import JwksEntry, RegisteredClient, RegisteredJwks
from maskinporten_operator.reasons import Reason
from maskinporten_operator.reconcile.conditions import READY
from maskinporten_operator.reconcile.effects import ClientRef
from maskinporten_operator.reconcile.memory import ClientMemory, KnownRegistration, TokenSlot
from maskinporten_operator.reconcile.reconciler import Outcome
from maskinporten_operator.reconcile.results import Event
from maskinporten_operator.reconcile.ring import ACTIVE, KeyRing, RingKey
from maskinporten_operator.reconcile.schedule import RefreshPlan
from maskinporten_operator.reconcile.secret_bodies import IssuedToken
from maskinporten_operator.runtime.apply import ResourceGone, apply_outcome
from maskinporten_testbed.fakekube import FakeKube, Verb

NAMESPACE = "team"
NAME = "weather"
REF = ClientRef(NAMESPACE, NAME, uid="uid-weather", generation=1)
NOW = 1_800_000_000.0
EXPIRES_AT = NOW + 600
NEXT_REFRESH = NOW + 300
LABELS = {"namespace": NAMESPACE, "name": NAME}


def status(ready: bool, reason: Reason, message: str = "message") -> dict[str, Any]:
    condition = {
        "type": READY,
        "status": str(ready),
        "reason": reason,
        "message": message,
        "observedGeneration": 1,
        "lastTransitionTime": "2027-01-15T08:00:00Z",
    }
    return {"observedGeneration": 1, "conditions": [condition]}


ISSUED = Event("Normal", Reason.TOKEN_ISSUED, "Secret weather-maskinporten holds a token")
READY_STATUS = status(True, Reason.TOKEN_ISSUED)
READY_OUTCOME = Outcome(READY_STATUS, NEXT_REFRESH, (ISSUED,), ready=True)


def memory_with_token() -> ClientMemory:
    token = IssuedToken("eyJ.token.sig", NOW, EXPIRES_AT, fingerprint="f")
    return ClientMemory(tokens={"": TokenSlot(token, RefreshPlan(NEXT_REFRESH, True))})


class Applied:
    """One apply_outcome call's surroundings, and what it did to them."""

    def __init__(self) -> None:
        self.kube = FakeKube()
        self.metrics = Metrics()
        self.events: list[Event] = []

    async def apply(
        self,
        outcome: Outcome,
        current_status: dict[str, Any],
        memory: ClientMemory | None = None,
    ) -> None:
        await apply_outcome(
            outcome,
            ref=REF,
            current_status=current_status,
            memory=memory or ClientMemory(),
            kube=self.kube,
            post_event=self.events.append,
            client_states=self.metrics.clients,
        )

    def gauge(self, name: str) -> float | None:
        return self.metrics.registry.get_sample_value(f"maskinporten_operator_{name}", LABELS)


async def test_a_changed_status_is_patched() -> None:
    applied = Applied()

    await applied.apply(READY_OUTCOME, current_status={})

    assert [(w.verb, w.name) for w in applied.kube.writes] == [(Verb.PATCH_STATUS, NAME)]
    assert applied.kube.status(NAMESPACE, NAME) == READY_STATUS


async def test_an_unchanged_status_is_not_patched() -> None:
    applied = Applied()
    routine = Outcome(READY_STATUS, NEXT_REFRESH, (), ready=True)

    await applied.apply(routine, current_status={**READY_STATUS, "unrelated": "kept"})

    assert applied.kube.writes == []


async def test_a_failed_status_patch_is_logged_and_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    applied = Applied()
    applied.kube.fail_next(1, 0)

    await applied.apply(READY_OUTCOME, current_status={})

    assert "status not updated, retried at the next wake-up" in caplog.text


async def test_a_status_patch_finding_no_resource_says_it_is_gone() -> None:
    """Deleted while the watch was down: its loop ends (runtime.loop)."""
    applied = Applied()
    applied.kube.fail_next(1, 404)

    with pytest.raises(ResourceGone):
        await applied.apply(READY_OUTCOME, current_status={})


async def test_the_outcomes_events_are_posted_in_order() -> None:
    applied = Applied()
    generated = Event("Normal", Reason.KEY_GENERATED, "generated RSA 2048 key")
    outcome = Outcome(READY_STATUS, NEXT_REFRESH, (generated, ISSUED), ready=True)

    await applied.apply(outcome, current_status={})

    assert applied.events == [generated, ISSUED]


async def test_a_warning_event_is_logged_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    applied = Applied()
    rejected = Event("Warning", Reason.TOKEN_REQUEST_REJECTED, "MP-100: unknown kid")
    failed = Outcome(status(False, rejected.reason), NOW + 15, (rejected,), ready=False)

    with caplog.at_level(logging.INFO):
        await applied.apply(failed, current_status={})

    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "TokenRequestRejected: MP-100: unknown kid")
    ]


async def test_the_same_failure_again_is_logged_though_no_event_is_posted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    applied = Applied()
    again = status(False, Reason.SERVER_ERROR, "HTTP 503")

    await applied.apply(Outcome(again, NOW + 30, (), ready=False), current_status=again)

    assert applied.events == []
    assert "ServerError again: HTTP 503" in caplog.text


async def test_gauges_hold_readiness_token_expiry_and_next_refresh() -> None:
    applied = Applied()

    await applied.apply(READY_OUTCOME, current_status={}, memory=memory_with_token())

    assert applied.gauge("ready") == 1.0
    assert applied.gauge("token_expiration_timestamp_seconds") == EXPIRES_AT
    assert applied.gauge("next_refresh_timestamp_seconds") == NEXT_REFRESH


async def test_an_expired_token_still_held_keeps_its_past_expiry_in_the_gauge() -> None:
    applied = Applied()
    failed = Outcome(status(False, Reason.SERVER_ERROR), EXPIRES_AT + 60, (), ready=False)

    await applied.apply(failed, current_status={}, memory=memory_with_token())

    assert applied.gauge("ready") == 0.0
    assert applied.gauge("token_expiration_timestamp_seconds") == EXPIRES_AT


async def test_a_resource_that_never_had_a_token_has_no_expiry_gauge() -> None:
    applied = Applied()
    failed = Outcome(status(False, Reason.SERVER_ERROR), NOW + 15, (), ready=False)

    await applied.apply(failed, current_status={})

    assert applied.gauge("ready") == 0.0
    assert applied.gauge("token_expiration_timestamp_seconds") is None


def test_applying_an_outcome_needs_no_kopf() -> None:
    probe = "import sys, maskinporten_operator.runtime.apply; print('kopf' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()

    assert loaded == "False"


async def test_a_managed_client_has_a_key_registration_expiry_gauge(client_key: ClientKey) -> None:
    applied = Applied()
    memory = memory_with_token()
    registered_until = NOW + 365 * 86_400
    client = RegisteredClient("c", "team/weather", "d", "maskinporten", ("a:b",))
    jwks = RegisteredJwks((JwksEntry(client_key.kid, registered_until, client_key.public_jwk()),))
    memory.registration = KnownRegistration(client, jwks, accepted=True)
    memory.ring = KeyRing((RingKey(client_key, ACTIVE),), version="1")

    await applied.apply(READY_OUTCOME, current_status={}, memory=memory)

    assert applied.gauge("key_registration_expiration_timestamp_seconds") == registered_until


async def test_a_client_with_a_client_id_has_no_key_registration_gauge() -> None:
    applied = Applied()

    await applied.apply(READY_OUTCOME, current_status={}, memory=memory_with_token())

    assert applied.gauge("key_registration_expiration_timestamp_seconds") is None
