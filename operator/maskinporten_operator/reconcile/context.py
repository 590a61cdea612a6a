"""What one reconciliation of a MaskinportenClient works with, shared by its steps."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, fields
from http import HTTPStatus
from typing import Any, TypeVar

from maskinporten_operator.api import ClientSpec
from maskinporten_operator.credentials.keys import ClientKey
from maskinporten_operator.oauth.server_model import ServerMetadata, TokenRequestError
from maskinporten_operator.ports import (
    AuthorizationServer,
    KubeError,
    KubernetesApi,
    RegisteredClient,
    RegisteredJwks,
    SelfService,
    TokenRequestMetrics,
)
from maskinporten_operator.reasons import Reason
from maskinporten_operator.reconcile import workload
from maskinporten_operator.reconcile.schedule import RefreshPlan
from maskinporten_operator.settings import Settings

T = TypeVar("T")


@dataclass
class Dependencies:
    settings: Settings
    kube: KubernetesApi
    auth: AuthorizationServer
    token_requests: asyncio.Semaphore
    metrics: TokenRequestMetrics
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], float] = time.time
    self_service: SelfService | None = None
    """Digdir's self-service API for managed clients; None when it is not configured, and
    ``self_service_problem`` then says what the administrator must do."""
    self_service_problem: str = (
        "managed clients (without spec.clientId) need the operator's self-service admin "
        "credential: an administrator sets MASKINPORTEN_OPERATOR_SELF_SERVICE_CREDENTIALS to "
        "the namespace/name of a Secret with the admin client's business certificate and its "
        "clientId (see the README, 'Managed clients')"
    )


@dataclass(frozen=True)
class TokenSlot:
    token: workload.IssuedToken
    plan: RefreshPlan


@dataclass(frozen=True)
class KnownKey:
    """A key read from its Secret, and a digest of what it was read from."""

    digest: str
    key: ClientKey


PENDING = "Pending"
ACTIVE = "Active"
RETIRING = "Retiring"


@dataclass(frozen=True)
class RingKey:
    """A managed client's key (see :mod:`.keyring`): its state, when it became the signing
    key, and after when it is removed once retiring (epoch seconds)."""

    key: ClientKey
    state: str
    activated_at: float | None = None
    retire_after: float | None = None

    @property
    def kid(self) -> str:
        return self.key.kid

    def described(self) -> dict[str, Any]:
        described: dict[str, Any] = {"state": self.state}
        if self.activated_at is not None:
            described["activatedAt"] = self.activated_at
        if self.retire_after is not None:
            described["retireAfter"] = self.retire_after
        return described


@dataclass(frozen=True)
class KeyRing:
    """Every key the operator generated for a managed client, as its key Secret holds them."""

    keys: tuple[RingKey, ...]
    version: str
    """The key Secret's resourceVersion the ring was read from."""

    @property
    def signing(self) -> RingKey:
        return next(k for k in self.keys if k.state == ACTIVE)

    @property
    def pending(self) -> RingKey | None:
        return next((k for k in self.keys if k.state == PENDING), None)

    def due_for_removal(self, now: float) -> list[RingKey]:
        return [
            k
            for k in self.keys
            if k.state == RETIRING and k.retire_after is not None and k.retire_after <= now
        ]


@dataclass(frozen=True)
class KnownRegistration:
    """The managed client as Digdir last answered it, and whether a grant signed with the
    operator's key has been accepted since that key was registered."""

    client: RegisteredClient
    jwks: RegisteredJwks
    accepted: bool = False


@dataclass
class ClientMemory:
    """What the operator remembers about one resource between reconciliations."""

    tokens: dict[str, TokenSlot] = field(default_factory=dict)
    consecutive_failures: int = 0
    failing_since: float | None = None
    """When the current run of failures began (Unix time); None while healthy."""
    key: KnownKey | None = None
    """The key last read: an unchanged key Secret is not parsed (nor checked) again."""
    registration: KnownRegistration | None = None
    """A managed client's registration, so that an unchanged one costs no API call."""
    pending_refusals: int = 0
    """Grants signed with a pending key refused in a row past Digdir's propagation window."""
    registration_failures: int = 0
    """Failed registrations in a row while tokens kept coming (their back-off)."""
    registration_failing_since: float | None = None
    """When that run of failed registrations began (Unix time); None while registered."""
    ring: KeyRing | None = None
    """A managed client's keys as last read from (or written to) its key Secret."""
    handled_rotation: str | None = None
    """The rotate-key request last handled. The status that records it comes back through the
    watch and can lag behind the operator's own write: a request is not handled twice."""
    secret_name_taken: str | None = None
    """The workload Secret's name when it was last found taken by a Secret this resource does
    not own: that Secret is then read before any token is requested, until the name is free."""

    def earliest_expiry(self) -> float | None:
        """When the first of the tokens held expires (Unix time), past or not; None without."""
        return min((slot.token.expires_at for slot in self.tokens.values()), default=None)

    def earliest_key_registration_expiry(self) -> float | None:
        """When the first of a managed client's registered keys expires at Digdir (Unix time);
        None for a client with a clientId, or before registration."""
        if self.registration is None or self.ring is None:
            return None
        jwks = self.registration.jwks
        expiries = [
            entry.expires_at
            for ring_key in self.ring.keys
            if (entry := jwks.key(ring_key.kid)) is not None and entry.expires_at is not None
        ]
        return min(expiries, default=None)

    def earliest_valid_expiry(self, now: float) -> float | None:
        valid = [
            slot.token.expires_at for slot in self.tokens.values() if slot.token.expires_at > now
        ]
        return min(valid, default=None)


@dataclass(frozen=True)
class ClientRef:
    namespace: str
    name: str
    uid: str
    generation: int | None

    @property
    def owner(self) -> workload.Owner:
        return workload.Owner(name=self.name, uid=self.uid)


@dataclass(frozen=True)
class Reconciliation:
    """What one reconciliation starts from, before it has read the spec."""

    ref: ClientRef
    status: Mapping[str, Any]
    """The resource's status as last written."""
    memory: ClientMemory
    deps: Dependencies
    now: float
    """When the reconciliation started (``deps.clock()``)."""
    forced: bool
    """A new forced-refresh request: tokens are requested even when the current ones are
    fresh."""

    def supplying(
        self, spec: ClientSpec, client_id: str, key: ClientKey, metadata: ServerMetadata
    ) -> Supply:
        """This reconciliation, once its spec, client id (the spec's, or the managed client's),
        key and the issuer's metadata are known."""
        known = {field.name: getattr(self, field.name) for field in fields(Reconciliation)}
        return Supply(**known, spec=spec, client_id=client_id, key=key, metadata=metadata)


@dataclass(frozen=True)
class Supply(Reconciliation):
    """A reconciliation ready to supply tokens: the spec, key and metadata it uses."""

    spec: ClientSpec
    client_id: str
    key: ClientKey
    metadata: ServerMetadata


@dataclass(frozen=True)
class Event:
    type: str
    reason: Reason
    message: str


class Failure(Exception):
    """A reason (for the condition) and a message a person can act on."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    @classmethod
    def from_token_request(cls, error: TokenRequestError, label: str = "") -> Failure:
        """The authorization server client's error, its reason in the operator's vocabulary."""
        return cls(Reason(error.reason), label + str(error))


async def kube_call(call: Awaitable[T]) -> T:
    """Await a Kubernetes call; its :class:`KubeError` becomes a :class:`Failure`."""
    try:
        return await call
    except KubeError as error:
        raise Failure(Reason.KUBERNETES_API_ERROR, str(error)) from None


async def create_or_read(
    kube: KubernetesApi, namespace: str, body: dict[str, Any]
) -> dict[str, Any] | None:
    """Create the Secret ``body``: None once created; the Secret already there when the create
    met HTTP 409 (one without the operator's labels, so the Secret watch did not hold it).
    That Secret gone again by the time it is read, or any other :class:`KubeError`, is a
    :class:`Failure` (retried)."""
    subject = f"Secret {namespace}/{body['metadata']['name']}"
    try:
        await kube.create_secret(namespace, body)
    except KubeError as error:
        if error.status != HTTPStatus.CONFLICT:
            raise Failure(Reason.KUBERNETES_API_ERROR, str(error)) from None
    else:
        return None
    existing = await kube_call(kube.get_secret(namespace, body["metadata"]["name"]))
    if existing is None:
        raise Failure(Reason.KUBERNETES_API_ERROR, f"{subject} was deleted while being created")
    return existing


async def auth_call(call: Awaitable[T]) -> T:
    """Await an authorization-server call; its :class:`TokenRequestError` becomes a
    :class:`Failure` with the same reason."""
    try:
        return await call
    except TokenRequestError as error:
        raise Failure.from_token_request(error) from None
