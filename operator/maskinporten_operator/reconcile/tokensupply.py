"""Tokens: reused while fresh, requested when due, written to the workload Secret.

Obtaining tokens and keeping them are two steps, so that a managed client's pending key can be
tried without writing anything: only tokens obtained with a key Maskinporten accepted (and that
key, with ``includeClientJwk``) reach the Secret.

A spec asks for one token, or one per ``spec.tokens`` entry. Each has its own refresh plan; a
failure of one keeps the others, and keeps its own current token while that is still valid.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from maskinporten_operator.api import ClientSpec, DesiredToken, GrantType
from maskinporten_operator.oauth.grant import GrantClaims, sign_client_assertion, sign_grant
from maskinporten_operator.oauth.server_model import TokenRequestError, TokenResponse
from maskinporten_operator.reasons import Reason
from maskinporten_operator.reconcile import workload
from maskinporten_operator.reconcile.context import (
    Dependencies,
    Failure,
    Supply,
    TokenSlot,
    auth_call,
    create_or_read,
    kube_call,
)
from maskinporten_operator.reconcile.schedule import RefreshPolicy, plan_refresh
from maskinporten_operator.settings import Settings


@dataclass(frozen=True)
class Obtained:
    """Tokens obtained (fresh ones kept, due ones requested), not yet kept in memory or written;
    the failures of the requests that failed; the workload Secret as it was read."""

    slots: dict[str, TokenSlot]
    failures: list[Failure]
    existing: Mapping[str, Any] | None


async def supply_tokens(ctx: Supply) -> tuple[TokenSlot, ...]:
    """Make the workload Secret hold a fresh token for each request; raise the first failure."""
    return await keep_tokens(ctx, await obtain_tokens(ctx))


async def keep_tokens(ctx: Supply, obtained: Obtained) -> tuple[TokenSlot, ...]:
    """Remember the tokens obtained and write them (and, with ``includeClientJwk``, the key
    they were obtained with) to the workload Secret; raise the first failure."""
    ctx.memory.tokens = obtained.slots
    if obtained.slots:
        await _write_workload_secret(ctx, obtained.slots, obtained.existing)
    if obtained.failures:
        raise obtained.failures[0]
    return tuple(obtained.slots.values())


async def obtain_tokens(ctx: Supply) -> Obtained:
    """A token for each request, reused while fresh, else requested; nothing is written."""
    ref, spec, deps = ctx.ref, ctx.spec, ctx.deps
    secret_name = spec.workload_secret_name(ref.name)
    taken = ctx.memory.secret_name_taken == secret_name
    read = deps.kube.get_secret if taken else deps.kube.get_watched_secret
    existing = await kube_call(read(ref.namespace, secret_name))
    if existing is not None:
        _refuse_unless_owned(ctx, existing)
    ctx.memory.secret_name_taken = None
    stored = workload.tokens_in_secret(existing) if existing else {}
    policy = refresh_policy(spec, deps.settings)
    slots: dict[str, TokenSlot] = {}
    failures: list[Failure] = []
    variant = [spec.grant_type.value] if spec.grant_type is not GrantType.JWT_BEARER else []
    variant += ["altinn"] if spec.altinn_exchange else []
    for request in spec.token_requests():
        claims = _claims(ctx, request)
        fingerprint = workload.fingerprint(*claims.fingerprint_fields(), ctx.key.kid, *variant)
        remembered = ctx.memory.tokens.get(request.name)
        in_secret = stored.get(request.name)
        current = remembered or (_planned(in_secret, policy) if in_secret else None)
        now = deps.clock()
        if (
            current is not None
            and current.token.fingerprint == fingerprint
            and now < current.plan.refresh_at
            and not ctx.forced
        ):
            slots[request.name] = current
            continue
        try:
            token = await _request_token(ctx, request.name, claims, fingerprint)
            if spec.altinn_exchange:
                token = await _exchange_for_altinn(token, deps)
        except Failure as failure:
            failures.append(failure)
            if current is not None:  # kept until a new one replaces it, even once expired
                slots[request.name] = current
            continue
        slots[request.name] = _planned(token, policy)
    return Obtained(slots, failures, existing)


def _claims(ctx: Supply, request: DesiredToken) -> GrantClaims:
    spec = ctx.spec
    return GrantClaims(
        client_id=ctx.client_id,
        audience=ctx.metadata.issuer,
        scopes=request.scopes,
        resource=request.resource,
        consumer_org=spec.consumer_org,
        system_user_org=spec.system_user_org,
    )


def _planned(token: workload.IssuedToken, policy: RefreshPolicy) -> TokenSlot:
    """The token's refresh plan, the same again after a restart: its jitter is drawn from the
    token's fingerprint and issue time (whole seconds, as the Secret keeps it), so a restarted
    operator neither refreshes a token earlier than planned nor rewrites the status."""
    jitter = random.Random(f"{token.fingerprint}@{int(token.issued_at)}")  # noqa: S311 - jitter, not cryptography
    plan = plan_refresh(
        issued_at=token.issued_at, expires_at=token.expires_at, policy=policy, rng=jitter
    )
    return TokenSlot(token, plan)


async def _request_token(
    ctx: Supply, name: str, claims: GrantClaims, fingerprint: str
) -> workload.IssuedToken:
    deps = ctx.deps
    async with deps.token_requests:
        issued_at = deps.clock()
        started = time.monotonic()
        try:
            response = await _send_grant(ctx, claims, int(issued_at))
        except TokenRequestError as error:
            deps.metrics.token_request(seconds=time.monotonic() - started, reason=error.reason)
            label = f"token '{name}': " if name else ""
            raise Failure.from_token_request(error, label) from None
        deps.metrics.token_request(seconds=time.monotonic() - started, reason=None)
    return workload.IssuedToken(
        access_token=response.access_token,
        issued_at=issued_at,
        expires_at=issued_at + response.expires_in,
        fingerprint=fingerprint,
        name=name,
    )


async def _send_grant(ctx: Supply, claims: GrantClaims, now: int) -> TokenResponse:
    """Maskinporten's JWT grant, or RFC 7523 section 2.2 client credentials for other servers."""
    key, metadata, auth = ctx.key, ctx.metadata, ctx.deps.auth
    if ctx.spec.grant_type is GrantType.CLIENT_CREDENTIALS:
        assertion = sign_client_assertion(claims.client_id, metadata.issuer, key, now=now)
        return await auth.request_client_credentials_token(
            metadata.token_endpoint, assertion, claims.scopes
        )
    return await auth.request_token(metadata.token_endpoint, sign_grant(claims, key, now=now))


async def _exchange_for_altinn(
    token: workload.IssuedToken, deps: Dependencies
) -> workload.IssuedToken:
    url = deps.settings.altinn_exchange
    if url is None:
        raise Failure(
            Reason.INVALID_SPEC,
            "spec.altinnExchange needs Altinn's exchange URL: an administrator sets "
            "MASKINPORTEN_OPERATOR_ALTINN_EXCHANGE_URL (the custom environment has no default)",
        )
    altinn_token = await auth_call(deps.auth.exchange_for_altinn(url, token.access_token))
    return replace(token, altinn_token=altinn_token)


async def _write_workload_secret(
    ctx: Supply, slots: Mapping[str, TokenSlot], existing: Mapping[str, Any] | None
) -> None:
    ref, spec, metadata = ctx.ref, ctx.spec, ctx.metadata
    tokens = [slot.token for slot in slots.values()]
    data = workload.workload_data(
        tokens=tokens,
        client_id=ctx.client_id,
        scopes=spec.scope_names,
        endpoints=workload.Endpoints(
            issuer=metadata.issuer,
            token_endpoint=metadata.token_endpoint,
            well_known_url=metadata.well_known_url,
            jwks_uri=metadata.jwks_uri,
        ),
        client_jwk=ctx.key.private_jwk_json() if spec.include_client_jwk else None,
    )
    body = workload.secret_body(
        name=spec.workload_secret_name(ref.name),
        namespace=ref.namespace,
        owner=ref.owner,
        role=workload.Role.WORKLOAD,
        data=data,
        annotations=workload.token_annotations(tokens),
        owned=True,
    )
    kube = ctx.deps.kube
    if existing is None:
        existing = await _create_or_read(ctx, body)
    if existing is not None and workload.differs(existing, body):
        version = existing["metadata"]["resourceVersion"]
        await kube_call(kube.replace_secret(ref.namespace, body, version))


async def _create_or_read(ctx: Supply, body: dict[str, Any]) -> Mapping[str, Any] | None:
    """Create the workload Secret; None once created. A Secret of that name the watch does not
    know (one without the operator's labels) makes the create fail with 409: it is then read,
    and returned when this MaskinportenClient owns it (its labels were removed)."""
    existing = await create_or_read(ctx.deps.kube, ctx.ref.namespace, body)
    if existing is not None:
        _refuse_unless_owned(ctx, existing)
    return existing


def _refuse_unless_owned(ctx: Supply, secret: Mapping[str, Any]) -> None:
    if not workload.is_owned_by(secret, ctx.ref.owner):
        ctx.memory.secret_name_taken = secret["metadata"]["name"]
        raise Failure(
            Reason.SECRET_CONFLICT,
            f"Secret {ctx.ref.namespace}/{secret['metadata']['name']} exists and is not managed "
            "by this MaskinportenClient; choose another spec.secretName or remove that Secret",
        )


def refresh_policy(spec: ClientSpec, settings: Settings) -> RefreshPolicy:
    return RefreshPolicy(
        at_lifetime_percent=spec.refresh.at_lifetime_percent
        or settings.refresh_at_lifetime_percent,
        before_expiry_seconds=(
            spec.refresh.before_expiry_seconds
            if spec.refresh.before_expiry_seconds is not None
            else settings.refresh_before_expiry_seconds
        ),
    )
