"""The self-service API stand-in's HTTP server, beside the Maskinporten stand-in on its loop.

It listens on a port of its own (Digdir serves the API from another host than Maskinporten,
``api.samarbeid.digdir.no``), so that faults and refused connections hit one and not the other,
and shares the Maskinporten stand-in's registry, clock and token signer: a client or key
registered here is what the token endpoint accepts, ``propagation_delay`` seconds later.

Routes under ``/api/v1/`` (Digdir's documentation of the self-service API):

- ``GET /clients`` (the organisation's clients), ``POST /clients`` (201, the whole model)
- ``GET | PUT | DELETE /clients/{client_id}`` (DELETE answers 204)
- ``GET | POST | DELETE /clients/{client_id}/jwks`` (POST replaces the whole set and refuses an
  empty one; DELETE removes every key and answers 204)
- ``GET /scopes/access/all[?accessible_for_all=true]``

Every request needs ``Authorization: Bearer <token>`` from the Maskinporten stand-in, issued
for a grant signed with a business certificate or a key registered on the admin client, and
carrying ``idporten:dcr.read`` (GET), ``idporten:dcr.write``
(create) or ``idporten:dcr.modify`` (change): 401 ``invalid_token`` otherwise, 403
``insufficient_scope`` / ``access_denied``. The organisation is the token's; another
organisation's client is 404. Refusals are ``{"error", "error_description"}``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from maskinporten_testbed.faultable import JSON, CannedResponse, FaultableSite
from maskinporten_testbed.standin.model import Client, Clock, RegisteredKey
from maskinporten_testbed.standin.server import MaskinportenStandin

from .model import (
    ADMIN_AMRS,
    APPLICATION_TYPE,
    APPROVED,
    AUTH_METHOD,
    BASE_PATH,
    DCR_MODIFY,
    DCR_READ,
    DCR_WRITE,
    DEFAULT_SCOPE_OWNER,
    GRANT_TYPES,
    INTEGRATION_TYPE,
    KEY_LIFETIME_SECONDS,
    ApiError,
    ApiRequestRecord,
    Caller,
    ClientRecord,
    ScopeAccess,
    invalid_metadata,
    invalid_request,
    not_found,
    timestamp,
)
from .rules import client_fields, jwks_keys

log = logging.getLogger(__name__)

_CALLER = web.RequestKey("caller", Caller)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SelfServiceStandin(FaultableSite[ApiRequestRecord]):
    """A strict stand-in for Digdir's self-service API, sharing ``maskinporten``'s state.

    ``propagation_delay``: seconds (server clock) from an answer of this API until the token
    endpoint acts on the change; keys, scopes, new and deleted clients alike.
    ``registration_clock_offset``: seconds added to the server clock for the time a key is
    registered at (its ``exp`` is a year after that), see :meth:`set_registration_clock_offset`.
    Methods that change state are plain (call them on the server's loop); ``start``/``stop``
    and the connection switches are coroutines.
    """

    def __init__(
        self,
        maskinporten: MaskinportenStandin,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        propagation_delay: float = 0.0,
    ) -> None:
        app = web.Application(middlewares=[self._middleware])
        super().__init__(app, host=host, port=port, party=_org)
        self.maskinporten = maskinporten
        self.propagation_delay = propagation_delay
        self.registration_clock_offset = 0.0
        self._records: dict[str, ClientRecord] = {}
        self._scope_access: dict[str, dict[str, ScopeAccess]] = {}
        self._public_scopes: dict[str, str] = {}
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "clients", self._list_clients),
            ("POST", "clients", self._create_client),
            ("GET", "clients/{client_id}", self._get_client),
            ("PUT", "clients/{client_id}", self._update_client),
            ("DELETE", "clients/{client_id}", self._delete_client),
            ("GET", "clients/{client_id}/jwks", self._get_jwks),
            ("POST", "clients/{client_id}/jwks", self._post_jwks),
            ("DELETE", "clients/{client_id}/jwks", self._delete_jwks),
            ("GET", "scopes/access/all", self._accessible_scopes),
        ]
        for method, path, handler in routes:
            self._app.router.add_route(method, BASE_PATH + path, handler)

    # --- lifecycle ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://<host>:<port>/api/v1/``, ending in a slash like Digdir's base URLs."""
        return f"http://{self.host}:{self.port}{BASE_PATH}"

    @property
    def clock(self) -> Clock:
        return self.maskinporten.clock

    # --- set-up by tests ------------------------------------------------------------------------

    def set_propagation_delay(self, seconds: float) -> None:
        self.propagation_delay = seconds

    def set_registration_clock_offset(self, seconds: float) -> None:
        """Keys posted (or registered by hand) from now on are registered as if at server time
        plus ``seconds``: with ``-340 * 86400`` a key posted now expires in 25 days, as one
        posted 340 days ago. The clock that tokens are issued and checked by does not move,
        so an operator on the real clock sees a registration that expires soon."""
        self.registration_clock_offset = seconds

    def _key_expiry(self, now: float) -> float:
        """When a key registered at server time ``now`` expires."""
        return now + self.registration_clock_offset + KEY_LIFETIME_SECONDS

    def grant_scope_access(
        self, org: str, *scopes: str, state: str = APPROVED, owner_org: str = DEFAULT_SCOPE_OWNER
    ) -> None:
        """Give ``org`` access to ``scopes`` (``state`` other than APPROVED lists them only)."""
        access = self._scope_access.setdefault(org, {})
        for scope in scopes:
            access[scope] = ScopeAccess(scope, org, owner_org, state)

    def add_public_scope(self, scope: str, owner_org: str = DEFAULT_SCOPE_OWNER) -> None:
        """A scope accessible to every organisation (``accessible_for_all``)."""
        self._public_scopes[scope] = owner_org

    def accessible_scopes(self, org: str) -> frozenset[str]:
        """The scopes ``org`` may put on a client: approved for it, or public."""
        approved = {s for s, a in self._scope_access.get(org, {}).items() if a.state == APPROVED}
        return frozenset(approved | self._public_scopes.keys())

    def register_client(
        self,
        client: Client,
        *,
        client_name: str | None = None,
        description: str = "",
        integration_type: str = INTEGRATION_TYPE,
    ) -> None:
        """A client made by hand in the portal long ago: the token endpoint knows it at once.

        Keys without an expiry get one, a year from now.
        """
        now = self.clock.now()
        keys = tuple(
            key if key.expires_at is not None else RegisteredKey(key.jwk, self._key_expiry(now))
            for key in client.keys
        )
        self.maskinporten.registry.put(dataclasses.replace(client, keys=keys))
        self._records[client.client_id] = ClientRecord(
            client_name=client_name or client.client_id,
            description=description,
            integration_type=integration_type,
            application_type=APPLICATION_TYPE,
            token_endpoint_auth_method=AUTH_METHOD,
            grant_types=GRANT_TYPES,
            created=now,
            last_updated=now,
            jwks_created=now if keys else None,
            jwks_last_updated=now if keys else None,
        )

    def client_document(self, client_id: str) -> dict[str, Any] | None:
        """The client as ``GET /clients/{id}`` shows it to its organisation, or None."""
        client = self.maskinporten.registry.latest(client_id)
        return None if client is None else self._client_document(client)

    def jwks_document(self, client_id: str) -> dict[str, Any] | None:
        """The client's JWKS as ``GET /clients/{id}/jwks`` shows it, or None."""
        client = self.maskinporten.registry.latest(client_id)
        return None if client is None else self._jwks_document(client)

    # --- HTTP -----------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.faults.latency > 0:
            await asyncio.sleep(self.faults.latency)
        now = self.clock.now()
        canned = self.faults.take(now)
        if canned is not None:
            self._record(request, now, canned.status, canned.outcome)
            return _canned(canned)
        try:
            response = await handler(request)
        except ApiError as error:
            self._record(request, now, error.status, error.error)
            return _error_response(error)
        except web.HTTPException as error:  # no such route (404) or method (405)
            self._record(request, now, error.status, "no_route")
            code = "not_found" if error.status == 404 else "invalid_request"
            return _error_response(ApiError(error.status, code, error.reason))
        self._record(request, now, response.status, "ok")
        return response

    def _record(self, request: web.Request, now: float, status: int, outcome: str) -> None:
        caller = request.get(_CALLER)
        org = caller.org if isinstance(caller, Caller) else None
        entry = ApiRequestRecord(now, request.method, request.path, org, status, outcome)
        log.info(
            "self-service %s %s org=%s status=%d outcome=%s",
            entry.method,
            entry.path,
            entry.org,
            entry.status,
            entry.outcome,
        )
        self.request_log.append(entry)

    def _caller(self, request: web.Request, scope: str) -> Caller:
        """The organisation a valid admin token speaks for; ApiError 401 or 403 otherwise."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "invalid_token", "Missing bearer token (Authorization: Bearer)")
        claims = self.maskinporten.access_token_claims(token.strip())
        if claims is None:
            raise ApiError(401, "invalid_token", "The access token is invalid or expired")
        if claims.get("client_amr") not in ADMIN_AMRS:
            raise ApiError(
                403,
                "access_denied",
                "The self-service API needs a token from a grant signed with a business "
                "certificate (virksomhetssertifikat) or a key registered on the admin client",
            )
        if "supplier" in claims:
            raise ApiError(
                403, "access_denied", "Tokens acting for another organisation are refused"
            )
        if scope not in str(claims.get("scope", "")).split():
            raise ApiError(403, "insufficient_scope", f"This operation needs the scope {scope}")
        consumer = claims.get("consumer")
        org = str(consumer.get("ID", "")) if isinstance(consumer, dict) else ""
        caller = Caller(str(claims.get("client_id", "")), org.removeprefix("0192:"))
        request[_CALLER] = caller
        return caller

    def _own_client(self, request: web.Request, scope: str) -> tuple[Caller, Client]:
        caller = self._caller(request, scope)
        client_id = request.match_info["client_id"]
        client = self.maskinporten.registry.latest(client_id)
        if client is None or client.org != caller.org:
            raise not_found(client_id)
        return caller, client

    async def _list_clients(self, request: web.Request) -> web.Response:
        caller = self._caller(request, DCR_READ)
        clients = [c for c in self.maskinporten.registry.latest_clients() if c.org == caller.org]
        documents = sorted(
            (self._client_document(client) for client in clients),
            key=lambda d: (d["created"], d["client_id"]),
        )
        return web.json_response(documents)

    async def _create_client(self, request: web.Request) -> web.Response:
        caller = self._caller(request, DCR_WRITE)
        fields = client_fields(
            await _json_body(request),
            org=caller.org,
            accessible_scopes=self.accessible_scopes(caller.org),
        )
        now = self.clock.now()
        client = Client(
            client_id=str(uuid.uuid4()),
            org=caller.org,
            scopes=fields.scopes,
            access_token_lifetime=fields.access_token_lifetime,
        )
        self._records[client.client_id] = ClientRecord(
            client_name=fields.client_name,
            description=fields.description,
            integration_type=fields.integration_type,
            application_type=fields.application_type,
            token_endpoint_auth_method=fields.token_endpoint_auth_method,
            grant_types=fields.grant_types,
            created=now,
            last_updated=now,
        )
        self._propagate(client.client_id, client, now)
        return web.json_response(self._client_document(client), status=201)

    async def _get_client(self, request: web.Request) -> web.Response:
        _, client = self._own_client(request, DCR_READ)
        return web.json_response(self._client_document(client))

    async def _update_client(self, request: web.Request) -> web.Response:
        caller, client = self._own_client(request, DCR_MODIFY)
        record = self._record_of(client)
        fields = client_fields(
            await _json_body(request),
            org=caller.org,
            accessible_scopes=self.accessible_scopes(caller.org),
            client_id=client.client_id,
            existing=record,
        )
        now = self.clock.now()
        self._records[client.client_id] = dataclasses.replace(
            record,
            client_name=fields.client_name,
            description=fields.description,
            last_updated=now,
        )
        updated = dataclasses.replace(
            client, scopes=fields.scopes, access_token_lifetime=fields.access_token_lifetime
        )
        self._propagate(client.client_id, updated, now)
        return web.json_response(self._client_document(updated))

    async def _delete_client(self, request: web.Request) -> web.Response:
        _, client = self._own_client(request, DCR_MODIFY)
        self._records.pop(client.client_id, None)
        self._propagate(client.client_id, None, self.clock.now())
        return web.Response(status=204)

    async def _get_jwks(self, request: web.Request) -> web.Response:
        _, client = self._own_client(request, DCR_READ)
        return web.json_response(self._jwks_document(client))

    async def _post_jwks(self, request: web.Request) -> web.Response:
        _, client = self._own_client(request, DCR_MODIFY)
        in_use = {
            key.kid
            for other in self.maskinporten.registry.latest_clients()
            if other.client_id != client.client_id
            for key in other.keys
        }
        jwks = jwks_keys(await _json_body(request), kids_in_use=in_use)
        now = self.clock.now()
        try:
            keys = tuple(RegisteredKey(jwk, self._key_expiry(now)) for jwk in jwks)
        except ValueError as error:  # a rule the registry enforces beyond the ones above
            raise invalid_metadata(str(error)) from None
        record = self._record_of(client)
        self._records[client.client_id] = dataclasses.replace(
            record, jwks_created=record.jwks_created or now, jwks_last_updated=now
        )
        updated = dataclasses.replace(client, keys=keys)
        self._propagate(client.client_id, updated, now)
        return web.json_response(self._jwks_document(updated))

    async def _delete_jwks(self, request: web.Request) -> web.Response:
        _, client = self._own_client(request, DCR_MODIFY)
        now = self.clock.now()
        record = self._record_of(client)
        self._records[client.client_id] = dataclasses.replace(record, jwks_last_updated=now)
        self._propagate(client.client_id, dataclasses.replace(client, keys=()), now)
        return web.Response(status=204)

    async def _accessible_scopes(self, request: web.Request) -> web.Response:
        caller = self._caller(request, DCR_READ)
        include_public = request.query.get("accessible_for_all", "false")
        if include_public not in ("true", "false"):
            raise invalid_request("accessible_for_all must be true or false")
        entries = list(self._scope_access.get(caller.org, {}).values())
        if include_public == "true":
            entries += [
                ScopeAccess(scope, caller.org, owner, APPROVED, accessible_for_all=True)
                for scope, owner in self._public_scopes.items()
            ]
        return web.json_response([entry.document() for entry in entries])

    # --- state ----------------------------------------------------------------------------------

    def _propagate(self, client_id: str, client: Client | None, now: float) -> None:
        self.maskinporten.registry.schedule(client_id, client, now + self.propagation_delay)

    def _record_of(self, client: Client) -> ClientRecord:
        """The client's metadata; a client registered straight at the Maskinporten stand-in
        gets a record on first sight, as if made in the portal."""
        record = self._records.get(client.client_id)
        if record is None:
            now = self.clock.now()
            record = ClientRecord(
                client_name=client.client_id,
                description="",
                integration_type=INTEGRATION_TYPE,
                application_type=APPLICATION_TYPE,
                token_endpoint_auth_method=AUTH_METHOD,
                grant_types=GRANT_TYPES,
                created=now,
                last_updated=now,
            )
            self._records[client.client_id] = record
        return record

    def _client_document(self, client: Client) -> dict[str, Any]:
        record = self._record_of(client)
        return {
            "client_id": client.client_id,
            "client_name": record.client_name,
            "client_orgno": client.org,
            "description": record.description,
            "integration_type": record.integration_type,
            "application_type": record.application_type,
            "scopes": sorted(client.scopes),
            "access_token_lifetime": self._lifetime_of(client),
            "token_endpoint_auth_method": record.token_endpoint_auth_method,
            "grant_types": list(record.grant_types),
            "created": timestamp(record.created),
            "last_updated": timestamp(record.last_updated),
            "active": True,
        }

    def _lifetime_of(self, client: Client) -> int:
        """The client's registered lifetime; for one registered straight at the Maskinporten
        stand-in without one, that stand-in's default."""
        if client.access_token_lifetime is None:
            return self.maskinporten.registry.default_lifetime
        return client.access_token_lifetime

    def _jwks_document(self, client: Client) -> dict[str, Any]:
        record = self._record_of(client)
        keys = [
            {**key.jwk, **({} if key.expires_at is None else {"exp": int(key.expires_at)})}
            for key in client.keys
        ]
        document: dict[str, Any] = {"keys": keys}
        if record.jwks_created is not None and record.jwks_last_updated is not None:
            document["created"] = timestamp(record.jwks_created)
            document["last_updated"] = timestamp(record.jwks_last_updated)
        return document


async def _json_body(request: web.Request) -> object:
    if request.content_type != JSON:
        raise invalid_request(f"Content-Type must be {JSON}")
    try:
        return json.loads(await request.read())
    except ValueError:
        raise invalid_request("The body is not valid JSON") from None


def _error_response(error: ApiError) -> web.Response:
    headers = {}
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    elif error.error == "insufficient_scope":
        headers["WWW-Authenticate"] = 'Bearer error="insufficient_scope"'
    body = {"error": error.error, "error_description": error.description}
    return web.json_response(body, status=error.status, headers=headers)


def _canned(canned: CannedResponse) -> web.Response:
    return web.Response(status=canned.status, text=canned.body, content_type=canned.content_type)


def _org(entry: ApiRequestRecord) -> str | None:
    return entry.org
