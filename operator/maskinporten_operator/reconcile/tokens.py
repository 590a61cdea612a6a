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
from maskinporten_operator.credentials.keys import ClientKey
from maskinporten_operator.oauth.grant import (
    GrantClaims,
    authorization_details_in,
    sign_client_assertion,
    sign_grant,
)
from maskinporten_operator.oauth.server_model import (
    ServerMetadata,
    TokenRequestError,
    TokenResponse,
)
from maskinporten_operator.reasons import Reason
from maskinporten_operator.reconcile import policies, secret_bodies
from maskinporten_operator.reconcile.effects import (
    ClientRef,
    Dependencies,
    Reconciliation,
    auth_call,
    create_or_read,
    kube_call,
    read_secret,
    token_request_failure,
    with_data,
)
from maskinporten_operator.reconcile.memory import TokenSlot
from maskinporten_operator.reconcile.results import Failure
from maskinporten_operator.reconcile.schedule import RefreshPolicy, plan_refresh
from maskinporten_operator.settings import Settings


@dataclass(frozen=True)
class Request:
    """What tokens are requested with: the spec, the client id (the spec's, or the managed
    client's), the key grants are signed with, and the issuer's metadata."""

    spec: ClientSpec
    client_id: str
    key: ClientKey
    metadata: ServerMetadata


@dataclass(frozen=True)
class Obtained:
    """Tokens obtained (fresh ones kept, due ones requested) with ``request``, not yet written;
    the failures of the requests that failed; the workload Secret as it was read; whether a
    token was requested (``renewed``: written, it is a new token for the pods). ``existing``
    may be without its data (served so by the watch: :func:`secret_bodies.differs` compares
    digests)."""

    request: Request
    slots: dict[str, TokenSlot]
    failures: list[Failure]
    existing: Mapping[str, Any] | None
    renewed: bool


class SecretNameTaken(Failure):
    """The workload Secret's name is taken by a Secret this resource does not own."""

    def __init__(self, namespace: str, name: str) -> None:
        super().__init__(
            Reason.SECRET_CONFLICT,
            f"Secret {namespace}/{name} exists and is not managed by this MaskinportenClient; "
            "choose another spec.secretName or remove that Secret",
        )
        self.name = name


async def obtain(run: Reconciliation, request: Request) -> Obtained:
    """A token for each the spec asks for, reused while fresh, else requested; nothing is
    written. Raises :class:`SecretNameTaken` (or another :class:`Failure` when the Secret
    cannot be read); a failed token request is returned among the failures."""
    ref, spec, deps = run.ref, request.spec, run.deps
    secret_name = spec.workload_secret_name(ref.name)
    taken = run.memory.secret_name_taken == secret_name
    existing = await read_secret(deps.kube, ref.namespace, secret_name, unlabelled=taken)
    if existing is not None:
        _refuse_unless_owned(run.ref, existing)
    existing, stored = await _stored_tokens(run, spec, existing)
    policy = refresh_policy(spec, deps.settings)
    slots: dict[str, TokenSlot] = {}
    failures: list[Failure] = []
    renewed = False
    for desired in spec.token_requests():
        claims = _claims(request, desired)
        _refuse_unsupported_details(claims, request.metadata)
        fingerprint = _fingerprint(request, claims)
        in_secret = stored.get(desired.name)
        current = run.memory.tokens.get(desired.name) or (
            _planned(in_secret, policy) if in_secret else None
        )
        if current is not None and policies.token_reusable(
            same_request=current.token.fingerprint == fingerprint,
            refresh_at=current.plan.refresh_at,
            now=deps.clock(),
            forced=run.forced,
        ):
            slots[desired.name] = current
            continue
        try:
            token = await _request_token(run, request, desired.name, claims, fingerprint)
        except Failure as failure:
            failures.append(failure)
            if current is not None:  # kept until a new one replaces it, even once expired
                slots[desired.name] = current
            continue
        slots[desired.name] = _planned(token, policy)
        renewed = True
    return Obtained(request, slots, failures, existing, renewed)


async def _stored_tokens(
    run: Reconciliation, spec: ClientSpec, existing: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, secret_bodies.IssuedToken]]:
    """The tokens in the workload Secret, read only when it holds one the resource does not
    hold in memory (after a restart, or once it leads again; never for a token whose requests
    keep failing): the Secret with its data then (one GET when the watch served it without),
    and its tokens; else the Secret as it is, and none."""
    missing = {d.name for d in spec.token_requests()} - run.memory.tokens.keys()
    if existing is None or not missing & secret_bodies.described_token_names(existing):
        return existing, {}
    existing = await with_data(run.deps.kube, existing)
    return existing, secret_bodies.tokens_in_secret(existing)


def _fingerprint(request: Request, claims: GrantClaims) -> str:
    spec = request.spec
    variant = [spec.grant_type.value] if spec.grant_type is not GrantType.JWT_BEARER else []
    variant += ["altinn"] if spec.altinn_exchange else []
    return secret_bodies.fingerprint(*claims.fingerprint_fields(), request.key.kid, *variant)


def _claims(request: Request, desired: DesiredToken) -> GrantClaims:
    spec = request.spec
    return GrantClaims(
        client_id=request.client_id,
        audience=request.metadata.issuer,
        scopes=desired.scopes,
        resource=desired.resource,
        consumer_org=spec.consumer_org,
        system_user_org=spec.system_user_org,
        authorization_details=authorization_details_in(spec.authorization_details),
    )


def _refuse_unsupported_details(claims: GrantClaims, metadata: ServerMetadata) -> None:
    """Raise :class:`Failure` (``InvalidSpec``) before anything is sent when the issuer's
    metadata lists the ``authorization_details`` types it supports and the claims hold
    another; a server that lists none decides for itself."""
    supported = metadata.authorization_details_types
    unsupported = sorted({d.type for d in claims.details} - set(supported or ()))
    if supported is None or not unsupported:
        return
    raise Failure(
        Reason.INVALID_SPEC,
        f"spec.authorizationDetails: the issuer {metadata.issuer} does not support the type(s) "
        f"{', '.join(unsupported)} (its metadata's authorization_details_types_supported: "
        f"{', '.join(supported) or 'none'})",
    )


def _planned(token: secret_bodies.IssuedToken, policy: RefreshPolicy) -> TokenSlot:
    """The token's refresh plan, the same again after a restart: its jitter is drawn from the
    token's fingerprint and issue time (whole seconds, as the Secret keeps it), so a restarted
    operator neither refreshes a token earlier than planned nor rewrites the status."""
    jitter = random.Random(f"{token.fingerprint}@{int(token.issued_at)}")  # noqa: S311 - jitter, not cryptography
    plan = plan_refresh(
        issued_at=token.issued_at, expires_at=token.expires_at, policy=policy, rng=jitter
    )
    return TokenSlot(token, plan)


async def _request_token(
    run: Reconciliation, request: Request, name: str, claims: GrantClaims, fingerprint: str
) -> secret_bodies.IssuedToken:
    """A new token (exchanged for Altinn's when the spec asks); raises :class:`Failure`."""
    deps = run.deps
    async with deps.token_requests:
        issued_at = deps.clock()
        started = time.monotonic()
        try:
            response = await _send_grant(deps, request, claims, int(issued_at))
        except TokenRequestError as error:
            elapsed = time.monotonic() - started
            deps.metrics.token_request(seconds=elapsed, reason=error.reason, code=error.code)
            label = f"token '{name}': " if name else ""
            raise token_request_failure(error, label) from None
        deps.metrics.token_request(seconds=time.monotonic() - started, reason=None)
    token = secret_bodies.IssuedToken(
        access_token=response.access_token,
        issued_at=issued_at,
        expires_at=issued_at + response.expires_in,
        fingerprint=fingerprint,
        name=name,
    )
    return await _exchange_for_altinn(token, deps) if request.spec.altinn_exchange else token


async def _send_grant(
    deps: Dependencies, request: Request, claims: GrantClaims, now: int
) -> TokenResponse:
    """Maskinporten's JWT grant, or RFC 7523 section 2.2 client credentials for other servers."""
    key, metadata, auth = request.key, request.metadata, deps.auth
    if request.spec.grant_type is GrantType.CLIENT_CREDENTIALS:
        assertion = sign_client_assertion(claims.client_id, metadata.issuer, key, now=now)
        return await auth.request_client_credentials_token(
            metadata.token_endpoint, assertion, claims.scopes
        )
    return await auth.request_token(metadata.token_endpoint, sign_grant(claims, key, now=now))


async def _exchange_for_altinn(
    token: secret_bodies.IssuedToken, deps: Dependencies
) -> secret_bodies.IssuedToken:
    url = deps.settings.altinn_exchange
    if url is None:
        raise Failure(
            Reason.INVALID_SPEC,
            "spec.altinnExchange needs Altinn's exchange URL: an administrator sets "
            "MASKINPORTEN_OPERATOR_ALTINN_EXCHANGE_URL (the custom environment has no default)",
        )
    altinn_token = await auth_call(deps.auth.exchange_for_altinn(url, token.access_token))
    return replace(token, altinn_token=altinn_token)


async def write(run: Reconciliation, obtained: Obtained) -> str | None:
    """Write the tokens obtained (and, with ``includeClientJwk``, the key they were obtained
    with) to the workload Secret, when that changes it. Returns the Secret's new
    resourceVersion when it was written, else None. Raises :class:`Failure`."""
    if not obtained.slots:
        return None
    ref, request = run.ref, obtained.request
    spec, metadata = request.spec, request.metadata
    issued = [slot.token for slot in obtained.slots.values()]
    data = secret_bodies.workload_data(
        tokens=issued,
        client_id=request.client_id,
        scopes=spec.scope_names,
        endpoints=secret_bodies.Endpoints(
            issuer=metadata.issuer,
            token_endpoint=metadata.token_endpoint,
            well_known_url=metadata.well_known_url,
            jwks_uri=metadata.jwks_uri,
        ),
        client_jwk=request.key.private_jwk_json() if spec.include_client_jwk else None,
    )
    body = secret_bodies.secret_body(
        name=spec.workload_secret_name(ref.name),
        namespace=ref.namespace,
        owner=ref.owner,
        role=secret_bodies.Role.WORKLOAD,
        data=data,
        annotations=secret_bodies.token_annotations(issued),
        owned=True,
    )
    existing = obtained.existing
    if existing is None:
        existing, created = await create_or_read(run.deps.kube, ref.namespace, body)
        if created:
            return _version(existing)
        _refuse_unless_owned(ref, existing)  # a Secret the watch did not know (labels removed)
    if not secret_bodies.differs(existing, body):
        return None
    version = existing["metadata"]["resourceVersion"]
    replaced = await kube_call(run.deps.kube.replace_secret(ref.namespace, body, version))
    return _version(replaced)


def _version(secret: Mapping[str, Any]) -> str:
    version: str = secret["metadata"]["resourceVersion"]
    return version


def _refuse_unless_owned(ref: ClientRef, secret: Mapping[str, Any]) -> None:
    if not secret_bodies.is_owned_by(secret, ref.owner):
        raise SecretNameTaken(ref.namespace, secret["metadata"]["name"])


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
