"""The effects a reconciliation has on the world, and what it starts from: its dependencies
(the Kubernetes API, the authorization server, Digdir's self-service API, the clock), the
resource it works on, and the wrappers that turn each adapter's error into a :class:`Failure`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar

from maskinporten_operator.oauth.server_model import TokenRequestError
from maskinporten_operator.ports import (
    AuthorizationServer,
    KubeError,
    KubernetesApi,
    Pods,
    SelfService,
    SelfServiceError,
    TokenRequestMetrics,
)
from maskinporten_operator.reasons import Reason
from maskinporten_operator.reconcile.memory import ClientMemory, SharedKeys
from maskinporten_operator.reconcile.results import Failure
from maskinporten_operator.reconcile.schedule import RetryPolicy
from maskinporten_operator.reconcile.secret_bodies import Owner, has_data
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
    keys: SharedKeys = field(default_factory=SharedKeys)
    """The keys the resources hold, shared by those that read the same key material."""
    self_service: SelfService | None = None
    """Digdir's self-service API for managed clients; None when it is not configured, and
    ``self_service_problem`` then says what the administrator must do."""
    self_service_problem: str = (
        "managed clients (without spec.clientId) need the operator's self-service admin "
        "credential: an administrator sets MASKINPORTEN_OPERATOR_SELF_SERVICE_CREDENTIALS to "
        "the namespace/name of a Secret with the admin client's business certificate and its "
        "clientId (see the README, 'Managed clients')"
    )
    pods: Pods | None = None
    """The pods labelled for a client, prompted after each new token; None when prompting is
    turned off (``MASKINPORTEN_OPERATOR_PROMPT_PODS=false``)."""

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.settings.retry_base_seconds, self.settings.retry_max_seconds)


@dataclass(frozen=True)
class ClientRef:
    namespace: str
    name: str
    uid: str
    generation: int | None

    @property
    def owner(self) -> Owner:
        return Owner(name=self.name, uid=self.uid)


@dataclass(frozen=True)
class Reconciliation:
    """What one reconciliation starts from, before it has read the spec."""

    ref: ClientRef
    status: Mapping[str, Any]
    """The resource's status as last written."""
    memory: ClientMemory
    """Read by the steps; written only by :func:`~.reconciler.reconcile`."""
    deps: Dependencies
    now: float
    """When the reconciliation started (``deps.clock()``)."""
    forced: bool
    """A new forced-refresh request: tokens are requested even when the current ones are
    fresh."""


async def kube_call(call: Awaitable[T]) -> T:
    """Await a Kubernetes call; its :class:`KubeError` becomes a :class:`Failure`."""
    try:
        return await call
    except KubeError as error:
        raise Failure(Reason.KUBERNETES_API_ERROR, str(error)) from None


async def create_or_read(
    kube: KubernetesApi, namespace: str, body: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """Create the Secret ``body``: the Secret as stored and True; or, when the create met HTTP
    409 (one without the operator's labels, so the Secret watch did not hold it), the Secret
    already there and False. That Secret gone again by the time it is read, or any other
    :class:`KubeError`, is a :class:`Failure` (retried)."""
    subject = f"Secret {namespace}/{body['metadata']['name']}"
    try:
        return await kube.create_secret(namespace, body), True
    except KubeError as error:
        if error.status != HTTPStatus.CONFLICT:
            raise Failure(Reason.KUBERNETES_API_ERROR, str(error)) from None
    existing = await kube_call(kube.get_secret(namespace, body["metadata"]["name"]))
    if existing is None:
        raise Failure(Reason.KUBERNETES_API_ERROR, f"{subject} was deleted while being created")
    return existing, False


async def read_secret(
    kube: KubernetesApi, namespace: str, name: str, *, unlabelled: bool
) -> dict[str, Any] | None:
    """The Secret as the watch serves it (perhaps without its data: :func:`with_data`); with
    ``unlabelled``, one without the watched label too (read from the API server). Raises
    :class:`Failure`."""
    secret = await kube_call(kube.get_watched_secret(namespace, name))
    if secret is None and unlabelled:
        secret = await kube_call(kube.get_secret(namespace, name))
    return secret


async def with_data(kube: KubernetesApi, secret: dict[str, Any]) -> dict[str, Any]:
    """``secret`` with its data: as it is, or read again when it was served without (one GET).
    Raises :class:`Failure` (also when it is gone by then)."""
    if has_data(secret):
        return secret
    namespace, name = secret["metadata"]["namespace"], secret["metadata"]["name"]
    read = await kube_call(kube.get_secret(namespace, name))
    if read is None:
        raise Failure(
            Reason.KUBERNETES_API_ERROR, f"Secret {namespace}/{name} was deleted while being read"
        )
    return read


def token_request_failure(error: TokenRequestError, label: str = "") -> Failure:
    """The authorization server client's error, with its reason."""
    return Failure(error.reason, label + str(error))


async def auth_call(call: Awaitable[T]) -> T:
    """Await an authorization-server call; its :class:`TokenRequestError` becomes a
    :class:`Failure` with the same reason."""
    try:
        return await call
    except TokenRequestError as error:
        raise token_request_failure(error) from None


def self_service_failure(error: SelfServiceError) -> Failure:
    return Failure(error.reason, str(error))


async def self_service_call(call: Awaitable[T]) -> T:
    """Await a self-service API call; its :class:`SelfServiceError` becomes a :class:`Failure`
    with the same reason and the API's own text."""
    try:
        return await call
    except SelfServiceError as error:
        raise self_service_failure(error) from None
