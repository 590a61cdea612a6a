"""One reconciliation of a MaskinportenClient: key, token, workload Secret, status.

Called by the per-resource daemon in :mod:`handlers`; everything it needs arrives as arguments,
so a reconciliation can be reasoned about (and tested) without kopf.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from maskinporten_operator import conditions as cond
from maskinporten_operator import secrets
from maskinporten_operator.authserver import (
    AuthorizationServerClient,
    ServerMetadata,
    TokenRequestError,
)
from maskinporten_operator.grant import GrantClaims, sign_grant
from maskinporten_operator.keys import (
    ClientKey,
    InvalidKeyError,
    generate_client_key,
    load_client_key,
)
from maskinporten_operator.kube import Kube, KubeError
from maskinporten_operator.metrics import Metrics
from maskinporten_operator.model import (
    GROUP,
    ClientSpec,
    DeletionPolicy,
    InvalidSpecError,
    KeySource,
    parse_spec,
)
from maskinporten_operator.schedule import (
    RefreshPlan,
    RefreshPolicy,
    RetryPolicy,
    plan_refresh,
    retry_delay,
)
from maskinporten_operator.settings import Settings

FORCE_REFRESH_ANNOTATION = f"{GROUP}/force-refresh"
T = TypeVar("T")


@dataclass
class Dependencies:
    settings: Settings
    kube: Kube
    auth: AuthorizationServerClient
    token_requests: asyncio.Semaphore
    metrics: Metrics
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], float] = time.time


@dataclass
class ClientMemory:
    """What the operator remembers about one resource between reconciliations."""

    token: secrets.IssuedToken | None = None
    plan: RefreshPlan | None = None
    consecutive_failures: int = 0


@dataclass(frozen=True)
class ClientRef:
    namespace: str
    name: str
    uid: str
    generation: int | None

    @property
    def owner(self) -> secrets.Owner:
        return secrets.Owner(name=self.name, uid=self.uid)


@dataclass(frozen=True)
class Event:
    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class Outcome:
    status: dict[str, Any]
    next_attempt_at: float
    events: tuple[Event, ...]
    ready: bool


class Failure(Exception):
    """A reason (CamelCase, for the condition) and a message a person can act on."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


async def reconcile(
    ref: ClientRef,
    raw_spec: Mapping[str, Any],
    status: Mapping[str, Any],
    annotations: Mapping[str, str],
    memory: ClientMemory,
    deps: Dependencies,
) -> Outcome:
    now = deps.clock()
    force_request = annotations.get(FORCE_REFRESH_ANNOTATION)
    forced = force_request is not None and force_request != status.get("handledForceRefresh")
    base_status: dict[str, Any] = {"observedGeneration": ref.generation}
    if force_request is not None:
        base_status["handledForceRefresh"] = force_request
    events: list[Event] = []
    try:
        spec = _parse(raw_spec, deps.settings)
        base_status.update(clientId=spec.client_id, secretName=spec.workload_secret_name(ref.name))
        key = await _ensure_key(ref, spec, status, deps, events)
        base_status.update(keyId=key.kid, publicJwk=key.public_jwk_json())
        metadata = await deps.auth.metadata(deps.settings.issuer_for(spec.issuer))
        token, plan = await _supply_token(ref, spec, key, metadata, memory, deps, forced=forced)
    except Failure as failure:
        return _failed(ref, failure, status, base_status, memory, deps, now, events)
    memory.consecutive_failures = 0
    new_status = {
        **base_status,
        "tokenExpiresAt": secrets.rfc3339(token.expires_at),
        "tokenLifetimeSeconds": round(token.expires_at - token.issued_at),
        "lastRefreshTime": secrets.rfc3339(token.issued_at),
        "nextRefreshTime": secrets.rfc3339(plan.refresh_at),
        "consecutiveFailures": 0,
    }
    lifetime = round(token.expires_at - token.issued_at)
    ready = cond.Condition(
        cond.READY,
        True,
        "TokenIssued",
        f"Secret {base_status['secretName']} holds a token valid until "
        f"{new_status['tokenExpiresAt']}",
    )
    sufficient = (
        cond.Condition(cond.LIFETIME_SUFFICIENT, True, "LongEnough", f"tokens live {lifetime} s")
        if plan.lifetime_is_safe
        else cond.Condition(
            cond.LIFETIME_SUFFICIENT,
            False,
            "ShorterThanMountDelay",
            f"tokens live only {lifetime} s: a pod reading the mounted Secret file (updated up to "
            "~2 minutes late) may read an expired token; request tokens in the app instead, or "
            "ask the API owner for a longer token lifetime",
        )
    )
    return _outcome(ref, status, new_status, (ready, sufficient), plan.refresh_at, events, now)


def _parse(raw_spec: Mapping[str, Any], settings: Settings) -> ClientSpec:
    try:
        spec = parse_spec(raw_spec)
        settings.issuer_for(spec.issuer)
    except (InvalidSpecError, ValueError) as error:
        raise Failure("InvalidSpec", str(error)) from None
    return spec


async def _ensure_key(
    ref: ClientRef,
    spec: ClientSpec,
    status: Mapping[str, Any],
    deps: Dependencies,
    events: list[Event],
) -> ClientKey:
    name = spec.key_secret_name(ref.name)
    where = f"Secret {ref.namespace}/{name}"
    secret = await _kube(deps.kube.get_secret(ref.namespace, name))
    if secret is None:
        if spec.key.source is KeySource.EXISTING:
            raise Failure(
                "KeySecretMissing",
                f"key {where} not found: create it with the client's private JWK under 'jwk' "
                "(or a PEM key under 'key.pem' and its kid under 'kid'), or set "
                "spec.key.source to Generated",
            )
        if status.get("keyId"):
            raise Failure(
                "KeySecretMissing",
                f"key {where} that held key {status['keyId']} is gone; no new key is generated "
                "behind your back: restore the Secret, or delete and recreate this "
                "MaskinportenClient to generate a new key (which must then be registered)",
            )
        return await _generate_key(ref, spec, name, deps, events)
    try:
        return load_client_key(
            secrets.decode_data(secret),
            source=where,
            data_key=spec.key.secret_key,
            key_id=spec.key.key_id,
        )
    except InvalidKeyError as error:
        raise Failure("KeyInvalid", str(error)) from None


async def _generate_key(
    ref: ClientRef, spec: ClientSpec, name: str, deps: Dependencies, events: list[Event]
) -> ClientKey:
    key = generate_client_key()
    body = secrets.secret_body(
        name=name,
        namespace=ref.namespace,
        owner=ref.owner,
        role=secrets.Role.KEY,
        data={"jwk": key.private_jwk_json()},
        annotations={secrets.KEY_ID_ANNOTATION: key.kid},
        owned=spec.key.deletion_policy is DeletionPolicy.DELETE,
    )
    await _kube(deps.kube.create_secret(ref.namespace, body))
    events.append(
        Event(
            "Normal",
            "KeyGenerated",
            f"generated RSA 2048 key {key.kid} in Secret {name}; register its public JWK "
            "(status.publicJwk) on the Maskinporten client",
        )
    )
    return key


async def _supply_token(
    ref: ClientRef,
    spec: ClientSpec,
    key: ClientKey,
    metadata: ServerMetadata,
    memory: ClientMemory,
    deps: Dependencies,
    *,
    forced: bool,
) -> tuple[secrets.IssuedToken, RefreshPlan]:
    claims = GrantClaims(
        client_id=spec.client_id,
        audience=metadata.issuer,
        scopes=spec.scope_names,
        resource=spec.resource,
        consumer_org=spec.consumer_org,
    )
    fingerprint = secrets.fingerprint(*claims.fingerprint_fields(), key.kid)
    secret_name = spec.workload_secret_name(ref.name)
    existing = await _kube(deps.kube.get_secret(ref.namespace, secret_name))
    if existing is not None and not secrets.is_owned_by(existing, ref.owner):
        raise Failure(
            "SecretConflict",
            f"Secret {ref.namespace}/{secret_name} exists and is not managed by this "
            "MaskinportenClient; choose another spec.secretName or remove that Secret",
        )
    now = deps.clock()
    current = memory.token or (secrets.token_in_secret(existing) if existing else None)
    if current is not None and (memory.token is not current or memory.plan is None):
        memory.plan = plan_refresh(
            issued_at=current.issued_at,
            expires_at=current.expires_at,
            policy=_refresh_policy(spec, deps.settings),
            rng=deps.rng,
        )
        memory.token = current
    reusable = (
        current is not None
        and memory.plan is not None
        and current.fingerprint == fingerprint
        and now < memory.plan.refresh_at
        and not forced
    )
    if reusable and current is not None and memory.plan is not None:
        token, plan = current, memory.plan
    else:
        try:
            token = await _request_token(claims, key, metadata, fingerprint, deps)
        except Failure:
            if current is not None and current.expires_at > now:
                await _write_workload_secret(ref, spec, key, metadata, current, existing, deps)
            raise
        plan = plan_refresh(
            issued_at=token.issued_at,
            expires_at=token.expires_at,
            policy=_refresh_policy(spec, deps.settings),
            rng=deps.rng,
        )
        memory.token, memory.plan = token, plan
    await _write_workload_secret(ref, spec, key, metadata, token, existing, deps)
    return token, plan


async def _request_token(
    claims: GrantClaims,
    key: ClientKey,
    metadata: ServerMetadata,
    fingerprint: str,
    deps: Dependencies,
) -> secrets.IssuedToken:
    async with deps.token_requests:
        issued_at = deps.clock()
        started = time.monotonic()
        assertion = sign_grant(claims, key, now=int(issued_at))
        try:
            response = await deps.auth.request_token(metadata.token_endpoint, assertion)
        except TokenRequestError as error:
            deps.metrics.token_request(seconds=time.monotonic() - started, reason=error.reason)
            raise Failure(error.reason, str(error)) from None
        deps.metrics.token_request(seconds=time.monotonic() - started, reason=None)
    return secrets.IssuedToken(
        access_token=response.access_token,
        issued_at=issued_at,
        expires_at=issued_at + response.expires_in,
        fingerprint=fingerprint,
    )


async def _write_workload_secret(
    ref: ClientRef,
    spec: ClientSpec,
    key: ClientKey,
    metadata: ServerMetadata,
    token: secrets.IssuedToken,
    existing: Mapping[str, Any] | None,
    deps: Dependencies,
) -> None:
    data = secrets.workload_data(
        token=token,
        client_id=spec.client_id,
        scopes=spec.scope_names,
        endpoints=secrets.Endpoints(
            issuer=metadata.issuer,
            token_endpoint=metadata.token_endpoint,
            well_known_url=metadata.well_known_url,
            jwks_uri=metadata.jwks_uri,
        ),
        client_jwk=key.private_jwk_json() if spec.include_client_jwk else None,
    )
    body = secrets.secret_body(
        name=spec.workload_secret_name(ref.name),
        namespace=ref.namespace,
        owner=ref.owner,
        role=secrets.Role.WORKLOAD,
        data=data,
        annotations={
            **secrets.token_annotations(token),
            secrets.DATA_HASH_ANNOTATION: secrets.data_hash(data),
        },
        owned=True,
    )
    if existing is None:
        await _kube(deps.kube.create_secret(ref.namespace, body))
    elif secrets.differs(existing, body):
        version = existing["metadata"]["resourceVersion"]
        await _kube(deps.kube.replace_secret(ref.namespace, body, version))


def _refresh_policy(spec: ClientSpec, settings: Settings) -> RefreshPolicy:
    return RefreshPolicy(
        at_lifetime_percent=spec.refresh.at_lifetime_percent
        or settings.refresh_at_lifetime_percent,
        before_expiry_seconds=(
            spec.refresh.before_expiry_seconds
            if spec.refresh.before_expiry_seconds is not None
            else settings.refresh_before_expiry_seconds
        ),
    )


async def _kube(call: Awaitable[T]) -> T:
    try:
        return await call
    except KubeError as error:
        raise Failure("KubernetesApiError", str(error)) from None


def _failed(
    ref: ClientRef,
    failure: Failure,
    status: Mapping[str, Any],
    base_status: dict[str, Any],
    memory: ClientMemory,
    deps: Dependencies,
    now: float,
    events: list[Event],
) -> Outcome:
    memory.consecutive_failures += 1
    valid_until = (
        memory.token.expires_at if memory.token and memory.token.expires_at > now else None
    )
    delay = retry_delay(
        consecutive_failures=memory.consecutive_failures,
        policy=RetryPolicy(deps.settings.retry_base_seconds, deps.settings.retry_max_seconds),
        rng=deps.rng,
        now=now,
        valid_token_expires_at=valid_until,
    )
    message = str(failure)
    if valid_until is not None:
        message += f" (the current token stays in place until {secrets.rfc3339(valid_until)})"
    new_status = {
        **{k: v for k, v in status.items() if k != "conditions"},
        **base_status,
        "nextRefreshTime": secrets.rfc3339(now + delay),
        "consecutiveFailures": memory.consecutive_failures,
    }
    ready = cond.Condition(cond.READY, False, failure.reason, message)
    kept = [c for c in status.get("conditions", []) if c.get("type") == cond.LIFETIME_SUFFICIENT]
    desired = [ready] + [
        cond.Condition(c["type"], c["status"] == "True", c["reason"], c["message"]) for c in kept
    ]
    return _outcome(ref, status, new_status, desired, now + delay, events, now)


def _outcome(
    ref: ClientRef,
    status: Mapping[str, Any],
    new_status: dict[str, Any],
    desired: Iterable[cond.Condition],
    next_attempt_at: float,
    events: list[Event],
    now: float,
) -> Outcome:
    previous = cond.find(status.get("conditions", []), cond.READY)
    new_status["conditions"] = cond.render_conditions(
        desired, status.get("conditions", []), generation=ref.generation, now=secrets.rfc3339(now)
    )
    ready = cond.find(new_status["conditions"], cond.READY)
    if (previous.get("status"), previous.get("reason")) != (ready["status"], ready["reason"]):
        events.append(
            Event(
                "Normal" if ready["status"] == "True" else "Warning",
                ready["reason"],
                ready["message"],
            )
        )
    return Outcome(
        status=new_status,
        next_attempt_at=next_attempt_at,
        events=tuple(events),
        ready=ready["status"] == "True",
    )
