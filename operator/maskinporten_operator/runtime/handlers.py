"""kopf wiring only: one daemon per MaskinportenClient, woken early by changes that matter."""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

import kopf

from maskinporten_operator.adapters.kube import Kube, KubeError, load_api_client
from maskinporten_operator.adapters.metrics import ClientState, Metrics
from maskinporten_operator.api import GROUP, PLURAL, VERSION
from maskinporten_operator.oauth.authserver import AuthorizationServerClient
from maskinporten_operator.reconcile import conditions, reconciler
from maskinporten_operator.reconcile.context import ClientMemory, ClientRef, Dependencies
from maskinporten_operator.runtime.wakeups import SecretWatcher, WakeRegistry
from maskinporten_operator.settings import settings_from_env

RESOURCE = (GROUP, VERSION, PLURAL)


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    operator_settings = settings_from_env(os.environ)
    settings.posting.loggers = False
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    kube = Kube(load_api_client(), concurrency=operator_settings.kubernetes_api_concurrency)
    memo.deps = Dependencies(
        settings=operator_settings,
        kube=kube,
        auth=AuthorizationServerClient(
            timeout_seconds=operator_settings.token_request_timeout_seconds
        ),
        token_requests=asyncio.Semaphore(operator_settings.max_concurrent_token_requests),
        metrics=Metrics(),
        rng=random.Random(),  # noqa: S311 - jitter, not cryptography
    )
    if operator_settings.metrics_port:
        memo.deps.metrics.serve(operator_settings.metrics_port)
    memo.wakeups = WakeRegistry()
    memo.secret_watcher = SecretWatcher(
        load_api_client(), memo.wakeups, namespaces=operator_settings.namespaces
    )
    memo.secret_watcher.start(asyncio.get_running_loop())


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    memo.secret_watcher.stop()
    await memo.deps.auth.aclose()
    memo.deps.kube.close()


@kopf.daemon(*RESOURCE, cancellation_timeout=10.0)
async def keep_client_supplied(
    body: kopf.Body,
    name: str,
    namespace: str | None,
    uid: str,
    stopped: kopf.DaemonStopped,
    memo: kopf.Memo,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    assert namespace is not None, "MaskinportenClient is namespaced"
    memory = ClientMemory()
    wakeup = memo.wakeups.register(namespace, name)
    try:
        while not stopped:
            ref = ClientRef(namespace, name, uid, body.meta.get("generation"))
            outcome = await reconciler.reconcile(
                ref, body.spec, body.status, body.meta.annotations, memory, memo.deps
            )
            if outcome.status != {k: body.status.get(k) for k in outcome.status}:
                try:
                    await memo.deps.kube.patch_status(namespace, name, outcome.status)
                except KubeError as error:
                    logger.warning("status not updated, retried at the next wake-up: %s", error)
            for event in outcome.events:
                kopf.event(body, type=event.type, reason=event.reason, message=event.message)
                log = logger.info if event.type == "Normal" else logger.warning
                log("%s: %s", event.reason, event.message)
            if not outcome.ready and not outcome.events:
                ready = conditions.find(outcome.status["conditions"], conditions.READY)
                logger.warning("%s again: %s", ready["reason"], ready["message"])
            memo.deps.metrics.clients.set(
                namespace,
                name,
                ClientState(
                    ready=outcome.ready,
                    token_expires_at=memory.earliest_valid_expiry(memo.deps.clock()),
                    next_refresh_at=outcome.next_attempt_at,
                ),
            )
            delay = max(outcome.next_attempt_at - memo.deps.clock(), 0.0)
            await wakeup.wait(delay, stopped)
    finally:
        memo.wakeups.unregister(namespace, name, wakeup)
        memo.deps.metrics.clients.forget(namespace, name)


@kopf.on.event(*RESOURCE)
async def wake_on_change(
    body: kopf.Body, name: str, namespace: str | None, memo: kopf.Memo, **_: Any
) -> None:
    """Spec changes and forced refreshes are handled at once, not at the next scheduled refresh."""
    forced = body.meta.annotations.get(reconciler.FORCE_REFRESH_ANNOTATION)
    memo.wakeups.wake_on_change(namespace or "", name, body.meta.get("generation"), forced)
