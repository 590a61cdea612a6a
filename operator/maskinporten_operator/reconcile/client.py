"""A managed client at Digdir: found again (never a second one), created, and kept with the
spec's scopes, name, description and token lifetime through the self-service API
(``docs/maskinporten-facts.md``, "Self-service API")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from maskinporten_operator.api import DEFAULT_ACCESS_TOKEN_LIFETIME, ClientSpec
from maskinporten_operator.ports import (
    INTEGRATION_TYPE,
    ClientRegistration,
    RegisteredClient,
    RegisteredJwks,
    SelfService,
    SelfServiceError,
    SelfServiceRejected,
    inaccessible_scopes,
)
from maskinporten_operator.reasons import EventType, Reason
from maskinporten_operator.reconcile import policies
from maskinporten_operator.reconcile.effects import (
    ClientRef,
    Reconciliation,
    self_service_call,
    self_service_failure,
)
from maskinporten_operator.reconcile.memory import KnownRegistration
from maskinporten_operator.reconcile.results import Event, Failure
from maskinporten_operator.reconcile.ring import ACTIVE

DESCRIPTION_PREFIX = "maskinporten-operator:"


def client_description(cluster: str, ref: ClientRef) -> str:
    """What identifies the resource's client among the organisation's."""
    return f"{DESCRIPTION_PREFIX}{cluster}/{ref.namespace}/{ref.name}"


async def known_client(
    run: Reconciliation, spec: ClientSpec, api: SelfService, signing_kid: str
) -> tuple[KnownRegistration, list[Event]]:
    """The client as remembered; else found (the adopted one, the one ``status.clientId`` names,
    or the one with this resource's description) and its key set read; else created."""
    known = _remembered(run, spec)
    if known is not None:
        return known, []
    events = []
    client = await _find(run, spec, api)
    if client is None:
        client = await _create(run, spec, api)
        jwks = RegisteredJwks(())
        events.append(
            Event(
                EventType.NORMAL,
                Reason.CLIENT_CREATED,
                f"created Maskinporten client {client.client_id}",
            )
        )
    else:
        jwks = await self_service_call(api.get_jwks(client.client_id))
        if spec.client_id is not None and run.status.get("clientId") != client.client_id:
            events.append(
                Event(
                    EventType.NORMAL, Reason.CLIENT_ADOPTED, f"took over client {client.client_id}"
                )
            )
    return KnownRegistration(client, jwks, accepted=accepted_before(run, signing_kid)), events


def _remembered(run: Reconciliation, spec: ClientSpec) -> KnownRegistration | None:
    known = run.memory.registration
    if known is None:
        return None
    wanted = spec.client_id or run.status.get("clientId") or known.client.client_id
    return known if known.client.client_id == wanted else None


def accepted_before(run: Reconciliation, kid: str) -> bool:
    """Whether the status says a grant signed with ``kid`` was accepted (before a restart)."""
    keys = run.status.get("keys") or []
    return any(entry.get("kid") == kid and entry.get("state") == ACTIVE for entry in keys)


def known_client_id(run: Reconciliation, spec: ClientSpec) -> str | None:
    """The managed client's id from the status, unless the spec now names another client."""
    known = run.status.get("clientId")
    if not known or (spec.client_id is not None and spec.client_id != known):
        return None
    return str(known)


async def _find(run: Reconciliation, spec: ClientSpec, api: SelfService) -> RegisteredClient | None:
    """The adopted client, the one ``status.clientId`` names (whatever its description now
    says), or the one whose description is this resource's; None when there is none to take."""
    ref, settings = run.ref, run.deps.settings
    ours = client_description(settings.cluster_name, ref)
    wanted = spec.client_id or run.status.get("clientId")
    if wanted:
        client = await client_or_none(api, wanted)
        if spec.client_id is not None:
            if client is None:
                raise Failure(
                    Reason.CLIENT_CONFLICT,
                    f"client {wanted} (spec.clientId, registration.adopt) is not among the "
                    "organisation's clients at Digdir",
                )
            return _usable(client)
        if client is not None:  # even when its description was edited: never a second one
            return _usable(client)
    clients = await self_service_call(api.list_clients())
    found = sorted(
        (c for c in clients if c.description == ours and c.integration_type == INTEGRATION_TYPE),
        key=lambda c: c.client_id,
    )
    return found[0] if found else None


async def client_or_none(api: SelfService, client_id: str) -> RegisteredClient | None:
    """The client ``client_id`` names; None when Digdir has none (404); raise :class:`Failure`
    on any other error."""
    try:
        return await api.get_client(client_id)
    except SelfServiceRejected as error:
        if error.status != 404:
            raise self_service_failure(error) from None
        return None
    except SelfServiceError as error:
        raise self_service_failure(error) from None


def _usable(client: RegisteredClient) -> RegisteredClient:
    if client.integration_type != INTEGRATION_TYPE:
        raise Failure(
            Reason.CLIENT_CONFLICT,
            f"client {client.client_id} is a {client.integration_type or 'non-Maskinporten'} "
            f"client, not a {INTEGRATION_TYPE} one; integration types cannot be changed",
        )
    return client


def _wanted(
    run: Reconciliation, spec: ClientSpec, client: RegisteredClient | None
) -> ClientRegistration:
    """The client as the spec wants it; an adopted client keeps its name, description and
    token lifetime unless ``registration.clientName`` and ``accessTokenLifetimeSeconds`` are
    given."""
    ref = run.ref
    registration = spec.registration_or_default
    name, lifetime = registration.client_name, registration.access_token_lifetime_seconds
    ours = client_description(run.deps.settings.cluster_name, ref)
    if spec.client_id is not None and client is not None:
        return ClientRegistration(
            name or client.client_name or f"{ref.namespace}/{ref.name}",
            client.description or ours,
            spec.scope_names,
            client.access_token_lifetime if lifetime is None else lifetime,
        )
    return ClientRegistration(
        name or f"{ref.namespace}/{ref.name}",
        ours,
        spec.scope_names,
        DEFAULT_ACCESS_TOKEN_LIFETIME if lifetime is None else lifetime,
    )


async def _check_access(api: SelfService, scopes: Sequence[str], unchanged: str) -> None:
    if not scopes:
        return
    access = await self_service_call(api.accessible_scopes())
    missing = inaccessible_scopes(scopes, access)
    if missing:
        raise Failure(
            Reason.SCOPE_NOT_ACCESSIBLE,
            f"the organisation may not put {', '.join(missing)} on a client (not among the "
            f"scopes Digdir's self-service API lists as accessible to it); {unchanged}",
        )


async def _create(run: Reconciliation, spec: ClientSpec, api: SelfService) -> RegisteredClient:
    wanted = _wanted(run, spec, None)
    await _check_access(api, wanted.scopes, "no client was created")
    return await self_service_call(api.create_client(wanted))


async def keep_client(
    run: Reconciliation, spec: ClientSpec, api: SelfService, known: KnownRegistration
) -> tuple[KnownRegistration, list[Event]]:
    """The client updated to the spec's scopes, name, description and token lifetime when they
    differ (the organisation's access to every scope to be added checked first)."""
    client = known.client
    wanted = _wanted(run, spec, client)
    if not policies.client_differs(client, wanted):
        return known, []
    added = [scope for scope in wanted.scopes if scope not in client.scopes]
    await _check_access(api, added, f"client {client.client_id} was left unchanged")
    updated = await self_service_call(api.update_client(client.client_id, wanted))
    events = []
    if set(updated.scopes) != set(client.scopes):
        events.append(
            Event(
                EventType.NORMAL,
                Reason.SCOPES_UPDATED,
                f"client {client.client_id} now has scopes {', '.join(sorted(updated.scopes))}",
            )
        )
    return replace(known, client=updated), events
