"""The reconcile and registration tests' world: the reconcile core against the in-memory
Kubernetes API and the real authorization server client talking to the Maskinporten stand-in on
the test's loop; for managed clients also the real self-service API client talking to the
self-service stand-in, which shares the Maskinporten stand-in's registry (so what is registered
is what the token endpoint accepts).

Time is one frozen clock shared by the operator and the stand-ins; jitter is a seeded Random;
nothing sleeps. Every use those tests make of the reconcile core's internals goes through here.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from maskinporten_operator.adapters.metrics import Metrics
from maskinporten_operator.adapters.selfservice import (
    AdminCredentialSecret,
    AdminTokenProvider,
    SelfServiceApi,
)
from maskinporten_operator.api import TOKEN_VERSION_ANNOTATION
from maskinporten_operator.credentials.keys import ClientKey
from maskinporten_operator.credentials.secret_data import read_key
from maskinporten_operator.oauth.authserver import AuthorizationServerClient
from maskinporten_operator.reconcile import deletion, keys, reconciler
from maskinporten_operator.reconcile.conditions import CLIENT_REGISTERED, READY, find
from maskinporten_operator.reconcile.effects import ClientRef, Dependencies
from maskinporten_operator.reconcile.memory import ClientMemory, SharedKeys
from maskinporten_operator.reconcile.policies import DIGDIR_PROPAGATION_SECONDS
from maskinporten_operator.reconcile.reconciler import Outcome
from maskinporten_operator.reconcile.results import Event, Failure
from maskinporten_operator.reconcile.schedule import OUTAGE_FRACTION
from maskinporten_operator.reconcile.secret_bodies import decode_data
from maskinporten_operator.settings import Environment, Settings
from maskinporten_testbed.fakekube import FakeKube, Verb, merge_patch
from maskinporten_testbed.selfservice import SelfServiceStandin, provision_admin_client
from maskinporten_testbed.standin import Client, FrozenClock, MaskinportenStandin, RegisteredKey
from maskinporten_testbed.testca import BusinessCertificate, CertificateAuthority
from tests.helpers import ORG

__all__ = [
    "CLIENT_REGISTERED",
    "DIGDIR_PROPAGATION_SECONDS",
    "OUTAGE_FRACTION",
    "READY",
    "Failure",
    "Outcome",
]

NAMESPACE = "team"
NAME = "weather"
REF = ClientRef(NAMESPACE, NAME, uid="uid-weather", generation=1)
KEY_SECRET = "weather-maskinporten-key"
WORKLOAD_SECRET = "weather-maskinporten"
ADMIN_SECRET = ("operator", "admin")
DESCRIPTION = "maskinporten-operator:default/team/weather"
START = 1_800_000_000.0
DAY = 86_400.0
CLIENT_ID = "weather-client"
SCOPE = "test:read"
ONE_SCOPE_SPEC: Mapping[str, Any] = {
    "clientId": CLIENT_ID,
    "scopes": {"consumes": [{"name": SCOPE}]},
}
"""A hand-registered client for the one scope its token has."""


class Pods:
    """In-memory :class:`~maskinporten_operator.ports.Pods`: labelled pods by (namespace,
    client), their annotations, and the error each pod's next patches meet (a KubeError, or
    anything the port does not promise)."""

    def __init__(self) -> None:
        self.labelled_for: dict[tuple[str, str], tuple[str, ...]] = {}
        self.annotations: dict[tuple[str, str], dict[str, str]] = {}
        self.refusing: dict[str, BaseException] = {}

    async def labelled(self, namespace: str, client_name: str) -> tuple[str, ...]:
        return self.labelled_for.get((namespace, client_name), ())

    async def annotate(self, namespace: str, name: str, annotations: Mapping[str, str]) -> None:
        if name in self.refusing:
            raise self.refusing[name]
        self.annotations.setdefault((namespace, name), {}).update(annotations)

    def version(self, name: str) -> str | None:
        return self.annotations.get((NAMESPACE, name), {}).get(TOKEN_VERSION_ANNOTATION)


@dataclass
class World:
    """The operator's surroundings, and the resource as the cluster holds it between runs."""

    maskinporten: MaskinportenStandin
    kube: FakeKube
    clock: FrozenClock
    deps: Dependencies
    spec: Mapping[str, Any]
    ref: ClientRef = REF
    annotations: dict[str, str] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    memory: ClientMemory = field(default_factory=ClientMemory)

    async def reconcile(self) -> Outcome:
        """One reconciliation; its status is then merged in as the operator's patch would be."""
        outcome = await reconciler.reconcile(
            self.ref, self.spec, self.status, self.annotations, self.memory, self.deps
        )
        merge_patch(self.status, outcome.status)
        return outcome

    def another_resource(self, name: str, spec: Mapping[str, Any]) -> World:
        """Another MaskinportenClient in the namespace, in the same surroundings."""
        ref = ClientRef(NAMESPACE, name, uid=f"uid-{name}", generation=1)
        return World(self.maskinporten, self.kube, self.clock, self.deps, spec, ref)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def restart(self) -> None:
        """The operator restarts: what it remembered is gone, the cluster keeps the rest (its
        Secret watch starts afresh, serving each Secret's data once)."""
        self.lead_again()
        self.kube.watch_afresh()

    def lead_again(self) -> None:
        """The replica stopped leading and leads again: the resource's loop starts afresh, the
        Secret watch holds what it held (the data it served already, only as digests)."""
        self.memory = ClientMemory()
        self.deps = replace(self.deps, keys=SharedKeys())

    def use_kube(self, kube: FakeKube) -> None:
        self.kube = kube
        self.deps = replace(self.deps, kube=kube)

    def observe_from_here(self) -> None:
        """Count Secret reads and writes and requests to the stand-ins from now on."""
        self.kube.writes.clear()
        self.kube.reads = 0
        self.maskinporten.clear_requests()

    @property
    def secret_writes(self) -> list[tuple[Verb, str]]:
        return [(write.verb, write.name) for write in self.kube.writes]

    @property
    def token_requests(self) -> int:
        return self.maskinporten.request_count()

    def token_requests_counted(self, **labels: str) -> float | None:
        """The ``maskinporten_operator_token_requests_total`` sample with ``labels``."""
        metrics = self.deps.metrics
        assert isinstance(metrics, Metrics)
        return metrics.registry.get_sample_value(
            "maskinporten_operator_token_requests_total", labels
        )

    @property
    def workload_data(self) -> dict[str, str]:
        return self.kube.secret_data(NAMESPACE, WORKLOAD_SECRET)

    def client_jwk_kids_written(self) -> list[str]:
        """The kid of the private JWK each write of the workload Secret carried."""
        return [
            json.loads(decode_data(write.body)["MASKINPORTEN_CLIENT_JWK"])["kid"]
            for write in self.kube.writes
            if write.name == WORKLOAD_SECRET and write.verb in (Verb.CREATE, Verb.REPLACE)
        ]


@dataclass
class HandRegisteredWorld(World):
    """A client registered at Maskinporten by hand, which the resource names in ``clientId``."""

    key: ClientKey = field(kw_only=True)
    """Registered on that client."""

    def put_registered_key(self, **meta: Any) -> None:
        self.kube.put_secret(NAMESPACE, KEY_SECRET, {"jwk": self.key.private_jwk_json()}, **meta)

    def key_parse_threads(self, monkeypatch: pytest.MonkeyPatch) -> list[int]:
        """The thread of each parse of a key Secret from now on."""
        threads: list[int] = []

        def recording_read_key(*args: Any, **kwargs: Any) -> ClientKey:
            threads.append(threading.get_ident())
            return read_key(*args, **kwargs)

        monkeypatch.setattr(keys, "read_key", recording_read_key)
        return threads


@dataclass
class ManagedWorld(World):
    """Managed clients: the operator registers the client through the self-service API."""

    selfservice: SelfServiceStandin = field(kw_only=True)
    admin_credential: Mapping[str, str] = field(kw_only=True)
    """The admin credential Secret's data, as the administrator put it."""

    def set_policy(self, policy: str) -> None:
        """MASKINPORTEN_OPERATOR_MANAGED_SCOPE_POLICY as the environment would give it."""
        rules = Settings.model_validate({"managed_scope_policy": policy}).managed_scope_policy
        self.deps.settings = self.deps.settings.model_copy(update={"managed_scope_policy": rules})

    async def delete_client(self) -> Event | None:
        """The resource is deleted: its client at Digdir goes by policy; the Event to post."""
        return await deletion.delete_client(self.ref, self.spec, self.status, self.deps)

    def observe_from_here(self) -> None:
        super().observe_from_here()
        self.selfservice.clear_requests()

    def calls(self) -> list[str]:
        """Self-service API calls since the last :meth:`observe_from_here`, as "METHOD path"."""
        return [
            f"{r.method} {r.path.split('/api/v1', 1)[-1]}" for r in self.selfservice.requests(ORG)
        ]

    def our_clients(self, description: str = DESCRIPTION) -> list[dict[str, Any]]:
        """The clients at Digdir whose description is the one the operator gives this resource's
        client (in the cluster named ``default``)."""
        return [
            document
            for client in self.maskinporten.registry.clients.values()
            if (document := self.selfservice.client_document(client.client_id)) is not None
            and document["description"] == description
        ]

    def registered_kids(self, client_id: str) -> list[str]:
        jwks = self.selfservice.jwks_document(client_id) or {"keys": []}
        return [key["kid"] for key in jwks["keys"]]


def dependencies(
    settings: Settings,
    kube: FakeKube,
    auth: AuthorizationServerClient,
    clock: FrozenClock,
    self_service: SelfServiceApi | None = None,
) -> Dependencies:
    return Dependencies(
        settings=settings,
        kube=kube,
        auth=auth,
        token_requests=asyncio.Semaphore(4),
        metrics=Metrics(),
        rng=random.Random(7),  # noqa: S311 - jitter, not cryptography
        clock=clock.now,
        self_service=self_service,
    )


@asynccontextmanager
async def hand_registered_world(
    maskinporten: MaskinportenStandin, key: ClientKey, spec: Mapping[str, Any], **settings: Any
) -> AsyncIterator[HandRegisteredWorld]:
    """``maskinporten`` (shared by a module's tests) reset, with the client ``spec`` names
    registered for the scopes it consumes and ``key``."""
    clock = FrozenClock(START)
    await maskinporten.accept_connections()
    maskinporten.clear_faults()
    maskinporten.clear_requests()
    maskinporten.clock = clock
    scopes = frozenset(scope["name"] for scope in spec["scopes"]["consumes"])
    keys = (RegisteredKey(key.public_jwk()),)
    maskinporten.register_client(Client(spec["clientId"], ORG, scopes, keys=keys))
    kube = FakeKube()
    async with aclosing(
        AuthorizationServerClient(timeout_seconds=5.0, wall_clock=clock.now)
    ) as auth:
        deps = dependencies(_settings(maskinporten, **settings), kube, auth, clock)
        yield HandRegisteredWorld(maskinporten, kube, clock, deps, spec, key=key)


@asynccontextmanager
async def managed_world(
    ca: CertificateAuthority, admin_certificate: BusinessCertificate, spec: Mapping[str, Any]
) -> AsyncIterator[ManagedWorld]:
    """Both stand-ins, trusting ``ca``; the admin client registered with ``admin_certificate``
    and its credential in the Secret the settings name."""
    clock = FrozenClock(START)
    async with (
        MaskinportenStandin(trusted_cas=[ca.root], clock=clock) as maskinporten,
        SelfServiceStandin(maskinporten) as selfservice,
        aclosing(AuthorizationServerClient(timeout_seconds=5.0, wall_clock=clock.now)) as auth,
    ):
        admin = provision_admin_client(maskinporten, ca, ORG, certificate=admin_certificate)
        credential = {
            "clientId": admin.client_id,
            "tls.key": admin_certificate.private_key_pem().decode(),
            "tls.crt": admin_certificate.chain_pem().decode(),
        }
        kube = FakeKube()
        kube.put_secret(*ADMIN_SECRET, credential)
        settings = _settings(
            maskinporten,
            self_service_url=selfservice.base_url,
            self_service_credentials="/".join(ADMIN_SECRET),
        )
        tokens = AdminTokenProvider(
            auth,
            credential=AdminCredentialSecret(kube, "/".join(ADMIN_SECRET), clock=clock.now),
            issuer=maskinporten.issuer,
            clock=clock.now,
            failure_hold_seconds=settings.retry_base_seconds,
        )
        async with aclosing(
            SelfServiceApi(selfservice.base_url, tokens, timeout_seconds=5.0)
        ) as api:
            deps = dependencies(settings, kube, auth, clock, api)
            yield ManagedWorld(
                maskinporten,
                kube,
                clock,
                deps,
                spec,
                selfservice=selfservice,
                admin_credential=credential,
            )


def _settings(maskinporten: MaskinportenStandin, **overrides: Any) -> Settings:
    return Settings(environment=Environment.CUSTOM, issuer=maskinporten.issuer, **overrides)


def condition(outcome: Outcome, kind: str) -> Mapping[str, Any]:
    return find(outcome.status["conditions"], kind)


def events_of(outcome: Outcome) -> list[tuple[str, str]]:
    return [(event.type, event.reason) for event in outcome.events]


def reasons(outcome: Outcome) -> list[str]:
    return [event.reason for event in outcome.events]
