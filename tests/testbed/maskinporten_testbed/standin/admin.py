"""JSON admin API under ``/admin/``, so other processes (demo script, shell) can set the server up.

For tests and demos only: it is unauthenticated and can register any key for any client.

- ``POST /admin/clients``: register or replace a client, body as :class:`Client`, e.g.
  ``{"client_id": "c", "org": "123456789", "scopes": ["a:b"], "keys": [{"jwk": {...}}]}``
- ``DELETE /admin/clients/{client_id}``
- ``POST /admin/trusted-cas``: ``{"pem": "-----BEGIN CERTIFICATE-----..."}``
- ``PUT /admin/lifetimes``: ``{"scope": seconds, ...}``
- ``POST /admin/clock``: ``{"offset": seconds}``
- ``POST /admin/faults``: any of ``latency``, ``fail_next`` (``count``, ``status``, ``body``,
  ``content_type``), ``outage`` (``start``, ``end``), ``refuse_seconds``, ``clear``
- ``GET /admin/requests[?client_id=...]``, ``DELETE /admin/requests``
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web
from cryptography import x509
from pydantic import BaseModel, ConfigDict, TypeAdapter

from maskinporten_testbed.faultable import DEFAULT_FAILURE_BODY

from .model import Client

if TYPE_CHECKING:
    from .server import MaskinportenStandin

_CLIENT = TypeAdapter(Client)
_LIFETIMES = TypeAdapter(dict[str, int])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Failure(_Strict):
    count: int
    status: int = 503
    body: str = DEFAULT_FAILURE_BODY
    content_type: str = "application/json"


class _Outage(_Strict):
    start: float
    end: float


class _Faults(_Strict):
    latency: float | None = None
    fail_next: _Failure | None = None
    outage: _Outage | None = None
    refuse_seconds: float | None = None
    clear: bool = False


class _Pem(_Strict):
    pem: str


class _Clock(_Strict):
    offset: float


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _json_errors(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ValueError as error:  # pydantic's ValidationError and bad JSON included
            return web.json_response({"error": str(error)}, status=400)

    return wrapped


def add_admin_routes(app: web.Application, standin: MaskinportenStandin) -> None:
    background: set[asyncio.Task[None]] = set()

    async def register(request: web.Request) -> web.Response:
        client = _CLIENT.validate_json(await request.read())
        standin.register_client(client)
        return web.json_response({"client_id": client.client_id}, status=201)

    async def remove(request: web.Request) -> web.Response:
        standin.remove_client(request.match_info["client_id"])
        return web.json_response({})

    async def trust(request: web.Request) -> web.Response:
        pem = _Pem.model_validate_json(await request.read()).pem
        standin.trust_ca(x509.load_pem_x509_certificate(pem.encode()))
        return web.json_response({})

    async def lifetimes(request: web.Request) -> web.Response:
        for scope, seconds in _LIFETIMES.validate_json(await request.read()).items():
            standin.set_lifetime(scope, seconds)
        return web.json_response(standin.registry.lifetimes)

    async def clock(request: web.Request) -> web.Response:
        standin.set_clock_offset(_Clock.model_validate_json(await request.read()).offset)
        return web.json_response({"now": standin.clock.now()})

    async def faults(request: web.Request) -> web.Response:
        body = _Faults.model_validate_json(await request.read())
        if body.clear:
            standin.clear_faults()
        if body.latency is not None:
            standin.set_latency(body.latency)
        if body.fail_next is not None:
            failure = body.fail_next
            standin.fail_next(failure.count, failure.status, failure.body, failure.content_type)
        if body.outage is not None:
            standin.set_outage(body.outage.start, body.outage.end)
        if body.refuse_seconds is not None:
            task = asyncio.create_task(_refuse_for(standin, body.refuse_seconds))
            background.add(task)
            task.add_done_callback(background.discard)
        return web.json_response({})

    async def requests(request: web.Request) -> web.Response:
        entries = standin.requests(request.query.get("client_id"))
        return web.json_response(
            {"count": len(entries), "requests": [dataclasses.asdict(e) for e in entries]}
        )

    async def clear_requests(_: web.Request) -> web.Response:
        standin.clear_requests()
        return web.json_response({})

    routes: list[tuple[str, str, Handler]] = [
        ("POST", "/admin/clients", register),
        ("DELETE", "/admin/clients/{client_id}", remove),
        ("POST", "/admin/trusted-cas", trust),
        ("PUT", "/admin/lifetimes", lifetimes),
        ("POST", "/admin/clock", clock),
        ("POST", "/admin/faults", faults),
        ("GET", "/admin/requests", requests),
        ("DELETE", "/admin/requests", clear_requests),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, _json_errors(handler))


async def _refuse_for(standin: MaskinportenStandin, seconds: float) -> None:
    await standin.refuse_connections()
    await standin.clock.sleep(seconds)
    await standin.accept_connections()
