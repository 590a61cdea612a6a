"""kopf wiring only: kopf's watch feeds the supervisor, which runs one loop per
MaskinportenClient (:mod:`.supervisor`), woken early by changes that matter; kopf's finalizer
and ``on.delete`` handler only for clients whose deletion must reach Digdir."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import kopf

from maskinporten_operator.adapters.bodies import interned
from maskinporten_operator.adapters.kube import Kube, WriteFence
from maskinporten_operator.adapters.kube_connection import load_api_client, load_configuration
from maskinporten_operator.adapters.labelled_pods import WatchedPods
from maskinporten_operator.adapters.metrics import Metrics
from maskinporten_operator.adapters.selfservice import (
    AdminCredentialSecret,
    AdminTokenProvider,
    SelfServiceApi,
    base_url,
)
from maskinporten_operator.adapters.watched_secrets import CachingKube, WatchedSecrets
from maskinporten_operator.api import (
    FORCE_REFRESH_ANNOTATION,
    GROUP,
    PLURAL,
    ROTATE_KEY_ANNOTATION,
    VERSION,
)
from maskinporten_operator.oauth.authserver import AuthorizationServerClient
from maskinporten_operator.reconcile import deletion, reconciler
from maskinporten_operator.reconcile.effects import ClientRef, Dependencies
from maskinporten_operator.reconcile.memory import ClientMemory
from maskinporten_operator.reconcile.results import Event, Failure
from maskinporten_operator.runtime.apply import apply_outcome
from maskinporten_operator.runtime.leader import LeaderElection, lease_election
from maskinporten_operator.runtime.loop import keep_supplied
from maskinporten_operator.runtime.standby import kept_by_finalizer, wait_to_delete
from maskinporten_operator.runtime.supervisor import Supervisor, Watched
from maskinporten_operator.runtime.wakeups import WakeRegistry
from maskinporten_operator.settings import Settings

RESOURCE = (GROUP, VERSION, PLURAL)
FINALIZER = f"{GROUP}/finalizer"
SECRET_LIST_WAIT_SECONDS = 10.0
"""At start-up, reads wait this long for the Secret watch's first list rather than each
resource reading its Secrets from the API server (and look-ups of labelled pods, for the pod
watch's)."""
logger = logging.getLogger(__name__)


@dataclass
class OperatorMemo:
    """What every handler shares (kopf gives each resource a shallow copy: the same objects)."""

    deps: Dependencies
    kube: Kube
    auth: AuthorizationServerClient
    metrics: Metrics
    watched_secrets: WatchedSecrets
    watched_pods: WatchedPods | None = None
    """None when prompting pods is turned off: no pod watch at all."""
    wakeups: WakeRegistry = field(default_factory=WakeRegistry)
    self_service: SelfServiceApi | None = None
    election: LeaderElection | None = None
    supervisor: Supervisor = field(init=False)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(
            functools.partial(keep_client_supplied, memo=self),
            leading=False,
            settle=self.kube.settled,
            restart=self.deps.retry_policy,
        )


def operator_memo(settings: Settings) -> OperatorMemo:
    kube = Kube(load_configuration(), concurrency=settings.kubernetes_api_concurrency)
    auth = AuthorizationServerClient(
        timeout_seconds=settings.token_request_timeout_seconds, ca_bundle=settings.ca_bundle
    )
    metrics = Metrics()
    wakeups = WakeRegistry()
    watched_secrets = WatchedSecrets(
        load_api_client(), wakeups.wake, namespaces=settings.namespaces
    )
    watched_pods = (
        WatchedPods(
            load_api_client(),
            kube,
            namespaces=settings.namespaces,
            list_wait_seconds=SECRET_LIST_WAIT_SECONDS,
            on_prompt=metrics.pod_prompt,
        )
        if settings.prompt_pods
        else None
    )
    return OperatorMemo(
        deps=Dependencies(
            settings=settings,
            kube=CachingKube(kube, watched_secrets, list_wait_seconds=SECRET_LIST_WAIT_SECONDS),
            auth=auth,
            token_requests=asyncio.Semaphore(settings.max_concurrent_token_requests),
            metrics=metrics,
            rng=random.Random(),  # noqa: S311 - jitter, not cryptography
            pods=watched_pods,
        ),
        kube=kube,
        auth=auth,
        metrics=metrics,
        watched_secrets=watched_secrets,
        watched_pods=watched_pods,
        wakeups=wakeups,
    )


class NoDiffBase(kopf.DiffBaseStorage):
    """No "essence" of the object for kopf to diff against.

    kopf builds one (a deep copy of the whole body) on every watch event, for change handlers
    (``on.create``/``update``/``resume``) and for resetting daemons' idle timers. This operator
    has neither: an event handler and an ``on.delete`` handler (kopf detects a deletion from the
    deletion timestamp, not from a diff). Building it cost ~2.4 ms of CPU per event (in
    the steady-state profile of hack/bench), and every status write comes back as an event.
    """

    def build(
        self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None
    ) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return kopf.BodyEssence()

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        """Nothing is kept: there is nothing to compare with."""


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: OperatorMemo, **_: Any) -> None:
    settings.posting.loggers = False
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = NoDiffBase()
    if memo.deps.settings.metrics_port:
        memo.metrics.serve(memo.deps.settings.metrics_port)
    memo.watched_secrets.start(asyncio.get_running_loop())
    if memo.watched_pods is not None:
        memo.watched_pods.start(asyncio.get_running_loop())
    await connect_self_service(memo)
    memo.election = start_election(memo)


def start_election(memo: OperatorMemo) -> LeaderElection:
    """Elect the replica that acts: only the leader runs the loops (refreshes, registers,
    rotates); a standby keeps kopf's watch and the Secret watch warm, so that it starts every
    loop from memory when it takes over. Every Kubernetes and self-service write is fenced by
    leadership (:class:`~maskinporten_operator.adapters.kube.WriteFence`): a request a cancelled
    loop had already sent may still be in flight, and must not land once another replica may
    lead."""
    settings = memo.deps.settings
    election = lease_election(
        settings,
        load_configuration(),
        on_started_leading=memo.supervisor.start_all,
        on_stopped_leading=functools.partial(
            memo.supervisor.stop_all, settings.election_timings.write_margin
        ),
        report_leading=memo.metrics.leading,
    )
    fence = WriteFence(election.elector.is_leading, settings.election_timings.write_margin)
    memo.kube.fence = fence
    if memo.self_service is not None:
        memo.self_service.fence = fence
    election.start()
    return election


async def connect_self_service(memo: OperatorMemo) -> None:
    """Digdir's self-service API for managed clients. The admin credential is read from its
    Secret when an admin token is needed, not here: a Secret created or fixed later, or a
    Kubernetes API error meanwhile, needs no restart."""
    settings = memo.deps.settings
    reference = settings.self_service_credentials
    if reference is None:
        return
    url = settings.self_service_url or base_url(settings.environment)
    assert url is not None, "settings require SELF_SERVICE_URL for the custom environment"
    tokens = AdminTokenProvider(
        memo.auth,
        credential=AdminCredentialSecret(memo.kube, reference),
        issuer=settings.default_issuer,
        failure_hold_seconds=settings.retry_base_seconds,
    )
    memo.self_service = SelfServiceApi(
        url,
        tokens,
        timeout_seconds=settings.token_request_timeout_seconds,
        ca_bundle=settings.ca_bundle,
    )
    memo.deps.self_service = memo.self_service


@kopf.on.cleanup()
async def stop(memo: OperatorMemo, **_: Any) -> None:
    if memo.election is not None:
        await memo.election.stop()  # stops the loops, then releases the Lease
    memo.watched_secrets.stop()
    if memo.watched_pods is not None:
        memo.watched_pods.stop()
    try:
        if memo.self_service is not None:
            await memo.self_service.aclose()
        await memo.auth.aclose()
    finally:
        await memo.kube.aclose()


async def keep_client_supplied(watched: Watched, memo: OperatorMemo) -> None:
    """One MaskinportenClient's loop, reading the body the watch last showed (``watched``)."""
    client = ClientLoop(watched, memo)
    try:
        await keep_supplied(
            client.current,
            reconcile=client.reconcile,
            apply=client.apply,
            wakeup=client.wakeup,
            clock=memo.deps.clock,
            retry_base_seconds=memo.deps.settings.retry_base_seconds,
        )
    finally:
        memo.wakeups.unregister(client.namespace, client.name, client.wakeup)
        memo.metrics.clients.forget(client.namespace, client.name)


class ClientLoop:
    """What one resource's loop holds while it sleeps: one object with slots, rather than
    closures over the loop's frame (four functions, their cells, and the first body's metadata
    held by the frame: ~1 KiB per resource)."""

    __slots__ = ("memo", "memory", "name", "namespace", "uid", "wakeup", "watched")

    def __init__(self, watched: Watched, memo: OperatorMemo) -> None:
        meta = watched.body["metadata"]
        self.watched, self.memo, self.memory = watched, memo, ClientMemory()
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.uid: str = meta["uid"]
        annotations = meta.get("annotations") or {}
        self.wakeup = memo.wakeups.register(
            self.namespace,
            self.name,
            meta.get("generation"),
            annotations.get(FORCE_REFRESH_ANNOTATION),
            annotations.get(ROTATE_KEY_ANNOTATION),
        )

    def current(self) -> ClientRef:
        """The resource as last seen (its generation moves)."""
        generation = self.watched.body["metadata"].get("generation")
        return ClientRef(self.namespace, self.name, self.uid, generation)

    async def reconcile(self, ref: ClientRef) -> reconciler.Outcome:
        body = self.watched.body
        return await reconciler.reconcile(
            ref,
            body.get("spec") or {},
            body.get("status") or {},
            body["metadata"].get("annotations") or {},
            self.memory,
            self.memo.deps,
        )

    async def apply(self, ref: ClientRef, outcome: reconciler.Outcome) -> None:
        await apply_outcome(
            outcome,
            ref=ref,
            current_status=self.watched.body.get("status") or {},
            memory=self.memory,
            kube=self.memo.kube,
            post_event=self.post_event,
            client_states=self.memo.metrics.clients,
        )

    def post_event(self, event: Event) -> None:
        body = cast(kopf.Body, self.watched.body)
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)


def deleted_at_digdir(spec: kopf.Spec, **_: Any) -> bool:
    """Filter of :func:`delete_managed_client`: kopf puts its finalizer only on the resources
    it matches, and removes it from those it no longer matches (a policy changed to
    ``Retain``; every resource an earlier version held with its daemon's finalizer). The spec
    is parsed from a plain dict: through kopf's view, parsing costs ten times as much."""
    return deletion.must_delete_at_digdir(dict(spec))


@kopf.on.delete(*RESOURCE, when=deleted_at_digdir)
async def delete_managed_client(
    body: kopf.Body,
    name: str,
    namespace: str | None,
    uid: str,
    retry: int,
    runtime: timedelta,
    memo: OperatorMemo,
    **_: Any,
) -> None:
    """A managed client the operator created goes with its resource (deletion policy
    ``Delete``); failures are retried with back-off (kopf counts the ``retry`` and the
    ``runtime`` since the first attempt), keeping the resource until the client is gone.
    Only the leader deletes; a standby waits here, writing nothing, until the leader is done or
    it leads itself (:mod:`.standby`)."""
    if not await leads_for_deletion(memo, namespace or "", name, uid):
        return
    ref = ClientRef(namespace or "", name, uid, body.meta.get("generation"))
    try:
        event = await deletion.delete_client(ref, body.spec, body.status, memo.deps)
    except Failure as failure:
        delay = deletion.deletion_retry_delay(
            memo.deps, failures=retry + 1, failing_for=runtime.total_seconds()
        )
        raise kopf.TemporaryError(str(failure), delay=delay) from None
    if event is not None:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)


async def leads_for_deletion(memo: OperatorMemo, namespace: str, name: str, uid: str) -> bool:
    """True when this replica leads, at once or after standing by; False when the leader
    finished the deletion (or the resource went) meanwhile. It looks once a lease duration:
    a namespace of many managed clients deleted at once costs a standby one read per client
    per 15 s, not per 2 s, and a standby that takes over is in no hurry to delete."""
    election = memo.election

    def leading() -> bool:
        return election is not None and election.elector.is_leading()

    if leading():
        return True
    logger.info("%s/%s is deleted: the leader deletes its client; standing by", namespace, name)
    leads = await wait_to_delete(
        leading,
        functools.partial(
            kept_by_finalizer,
            functools.partial(memo.kube.get_client, namespace, name),
            uid=uid,
            finalizer=FINALIZER,
        ),
        period=memo.deps.settings.leader_election_lease_duration_seconds,
    )
    if not leads:
        logger.info("%s/%s: the leader is done with its deletion", namespace, name)
    return leads


@kopf.on.event(*RESOURCE)
async def observe_client(event: kopf.RawEvent, memo: OperatorMemo, **_: Any) -> None:
    """Every watch event of a MaskinportenClient (3 per create, and the listing at start-up)
    comes here, and goes to the supervisor, which starts, feeds and stops the loops.

    Spec changes, forced refreshes and key rotation requests wake the resource's loop at once,
    not at the next scheduled refresh. And the body the supervisor keeps as the loop's body
    until the next event loses ``metadata.managedFields`` (server-side apply bookkeeping that
    neither kopf nor the operator reads, 60 % of the body's memory: 12 of 20 KiB), and is kept
    :func:`~maskinporten_operator.adapters.bodies.interned`. Plain dicts are read, not kopf's
    body views: a lookup through those costs ~40 times a dict's.
    """
    raw = cast(dict[str, Any], event["object"])
    raw["metadata"].pop("managedFields", None)
    body: dict[str, Any] = interned(raw)
    meta = body["metadata"]
    memo.supervisor.observe(event["type"], body)
    annotations = meta.get("annotations") or {}
    memo.wakeups.wake_on_change(
        meta.get("namespace", ""),
        meta["name"],
        meta.get("generation"),
        annotations.get(FORCE_REFRESH_ANNOTATION),
        annotations.get(ROTATE_KEY_ANNOTATION),
    )
