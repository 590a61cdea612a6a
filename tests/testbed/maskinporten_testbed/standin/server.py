"""The stand-in's HTTP server, run in-process on the caller's event loop."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from email.utils import formatdate
from typing import Any

from aiohttp import web
from cryptography import x509

from maskinporten_testbed.faultable import DEFAULT_FAILURE_BODY, JSON, CannedResponse, FaultableSite

from .admin import add_admin_routes
from .authz import AUTHORIZATION_DETAILS_TYPES, authorize
from .grant import FORM, authenticate, parse_request
from .model import GRANT_ALGORITHMS, GRANT_TYPE, Client, Clock, GrantError, RequestRecord
from .state import Registry
from .tokens import TokenSigner

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


ALTINN_EXCHANGE_PATH = "/authentication/api/v1/exchange/maskinporten"


class MaskinportenStandin(FaultableSite[RequestRecord]):
    """A strict Maskinporten authorization server for tests and demos.

    ``issuer`` defaults to ``http://<host>:<port>/``; pass it when clients reach the server
    under another name. ``clock`` defaults to the wall clock; tests of time boundaries pass a
    :class:`FrozenClock`. Methods that change state are plain (call them on the server's loop);
    ``start``/``stop`` and the connection switches are coroutines.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        issuer: str | None = None,
        default_lifetime: int = 120,
        lifetimes: Mapping[str, int] | None = None,
        trusted_cas: Sequence[x509.Certificate] = (),
        clock: Clock | None = None,
    ) -> None:
        """``clock``: the server's time (a :class:`FrozenClock` for exact boundaries)."""
        if issuer is not None and not issuer.endswith("/"):
            raise ValueError("the issuer must end with a slash")
        super().__init__(web.Application(), host=host, port=port, party=_client_id)
        self._issuer = issuer
        self.clock = clock or Clock()
        self.registry = Registry(default_lifetime, lifetimes or {}, trusted_cas)
        self._signer = TokenSigner()
        self._issued: list[str] = []
        self._app.router.add_get("/.well-known/oauth-authorization-server", self._metadata)
        self._app.router.add_get("/jwk", self._jwk)
        self._app.router.add_post("/token", self._token)
        self._app.router.add_get(ALTINN_EXCHANGE_PATH, self._altinn_exchange)
        add_admin_routes(self._app, self)

    @property
    def issuer(self) -> str:
        return self._issuer or f"http://{self.host}:{self.port}/"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}token"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}jwk"

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}.well-known/oauth-authorization-server"

    @property
    def base_url(self) -> str:
        """Where this process reaches the server (the issuer may name another host)."""
        return f"http://{self.host}:{self.port}/"

    def register_client(self, client: Client) -> None:
        """Register, or replace, a client; the token endpoint acts on it at once."""
        self.registry.put(client)

    def remove_client(self, client_id: str) -> None:
        self.registry.remove(client_id)

    def trust_ca(self, certificate: x509.Certificate) -> None:
        self.registry.trusted_cas.append(certificate)

    def set_lifetime(self, scope: str, seconds: int) -> None:
        self.registry.lifetimes[scope] = seconds

    def set_clock_offset(self, seconds: float) -> None:
        self.clock.offset = seconds

    def set_client_latency(self, client_id: str, seconds: float) -> None:
        """Hold answers to ``client_id``'s token requests ``seconds`` (0: no longer)."""
        self.faults.client_latency[client_id] = seconds

    def fail_client(
        self,
        client_id: str,
        count: int,
        status: int = 503,
        body: str = DEFAULT_FAILURE_BODY,
        content_type: str = JSON,
    ) -> None:
        """Answer ``client_id``'s next ``count`` token requests with ``status`` and ``body``;
        other clients are served as usual."""
        self.faults.fail_client(client_id, count, status, body, content_type)

    def issued_tokens(self) -> list[str]:
        """Every access token (Altinn's included) this server has issued since it started, for
        tests that look for them where they must never be (logs, Events, status)."""
        return list(self._issued)

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "token_endpoint": self.token_endpoint,
            "jwks_uri": self.jwks_uri,
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "grant_types_supported": [GRANT_TYPE],
            "token_endpoint_auth_signing_alg_values_supported": list(GRANT_ALGORITHMS),
            "authorization_details_types_supported": list(AUTHORIZATION_DETAILS_TYPES),
        }

    async def _metadata(self, _: web.Request) -> web.Response:
        return web.json_response(self.metadata())

    async def _jwk(self, _: web.Request) -> web.Response:
        return web.json_response(self._signer.jwks())

    def access_token_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of an access token this server issued, while it is valid by its clock;
        None for any other string."""
        claims = self._signer.verify(token, self.clock.now())
        return claims if claims is not None and claims.get("iss") == self.issuer else None

    async def _altinn_exchange(self, request: web.Request) -> web.Response:
        """Altinn's token exchange: a Maskinporten token in, an Altinn token out (plain text)."""
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        exchanged = self._signer.exchange_for_altinn(bearer, self.clock.now())
        if exchanged is None:
            return web.Response(status=401, text="invalid or expired Maskinporten token")
        self._issued.append(exchanged)
        return web.Response(text=exchanged, content_type="text/plain", headers=NO_STORE)

    @property
    def altinn_exchange_url(self) -> str:
        return self.base_url.rstrip("/") + ALTINN_EXCHANGE_PATH

    async def _token(self, request: web.Request) -> web.Response:
        if self.faults.latency > 0:
            await self.clock.sleep(self.faults.latency)
        now = self.clock.now()
        form = await request.post() if request.content_type == FORM else {}
        fields = {name: value for name, value in form.items() if isinstance(value, str)}
        try:
            grant = parse_request(request.content_type, fields)
        except GrantError as error:
            return self._answer(now, None, self.faults.take(now) or error)
        client_latency = self.faults.client_latency.get(grant.client_id or "", 0.0)
        if client_latency > 0:
            await self.clock.sleep(client_latency)
            now = self.clock.now()
        canned = self.faults.take(now, grant.client_id)
        if canned is not None:
            return self._answer(now, grant.client_id, canned)
        try:
            who = authenticate(grant, self.issuer, self.registry, now)
            what = authorize(who.client, grant.claims)
        except GrantError as error:
            return self._answer(now, grant.client_id, error)
        lifetime = self.registry.lifetime(what.scopes, who.client.access_token_lifetime)
        body = self._signer.issue(self.issuer, who, what, lifetime, now)
        self._issued.append(body["access_token"])
        self._record(RequestRecord(now, grant.client_id, 200, "ok"))
        return web.json_response(body, headers=_answer_headers(now))

    def _answer(
        self, now: float, client_id: str | None, answer: GrantError | CannedResponse
    ) -> web.Response:
        if isinstance(answer, CannedResponse):
            self._record(RequestRecord(now, client_id, answer.status, answer.outcome))
            return web.Response(
                status=answer.status,
                text=answer.body,
                content_type=answer.content_type,
                headers={"Date": _http_date(now)},
            )
        self._record(RequestRecord(now, client_id, answer.status, answer.code))
        body = {"error": answer.error, "error_description": answer.description}
        return web.json_response(body, status=answer.status, headers=_answer_headers(now))

    def _record(self, entry: RequestRecord) -> None:
        log.info(
            "token request client=%s status=%d outcome=%s",
            entry.client_id,
            entry.status,
            entry.outcome,
        )
        self.request_log.append(entry)


def _answer_headers(now: float) -> dict[str, str]:
    """A token answer's headers: never cached, dated by the server's clock (which tests move)."""
    return {**NO_STORE, "Date": _http_date(now)}


def _http_date(now: float) -> str:
    """``now`` as an HTTP ``Date`` (RFC 9110 section 5.6.7)."""
    return formatdate(now, usegmt=True)


def _client_id(entry: RequestRecord) -> str | None:
    return entry.client_id
