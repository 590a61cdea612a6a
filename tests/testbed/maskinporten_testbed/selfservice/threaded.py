"""The self-service API stand-in on a :class:`StandinThread`'s loop, behind a synchronous handle.

For tests whose own code runs elsewhere (an operator in another thread or process): every
method hops onto the server's loop, so the handle is safe to use from any thread.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from maskinporten_testbed.standin.model import Client
from maskinporten_testbed.standin.state import DEFAULT_FAILURE_BODY
from maskinporten_testbed.standin.threaded import StandinThread

from .model import APPROVED, DEFAULT_SCOPE_OWNER, INTEGRATION_TYPE, ApiRequestRecord
from .server import JSON, SelfServiceStandin

T = TypeVar("T")


class SelfServiceThread:
    """Synchronous, thread-safe handle; the ``standin`` thread must be running.

    Use as a context manager or call ``start``/``stop``; stop it before the stand-in thread.
    """

    def __init__(
        self,
        standin: StandinThread,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        propagation_delay: float = 0.0,
    ) -> None:
        self._standin = standin
        self._options: dict[str, Any] = {
            "host": host,
            "port": port,
            "propagation_delay": propagation_delay,
        }
        self._server: SelfServiceStandin | None = None

    def start(self) -> SelfServiceThread:
        server = self._standin.call(
            lambda maskinporten: SelfServiceStandin(maskinporten, **self._options)
        )
        self._standin.run(server.start())
        self._server = server
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            self._standin.run(server.stop())

    def __enter__(self) -> SelfServiceThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def server(self) -> SelfServiceStandin:
        if self._server is None:
            raise RuntimeError("the self-service stand-in is not running")
        return self._server

    def call(self, function: Callable[[SelfServiceStandin], T]) -> T:
        """Run ``function`` with the server object on the server's loop and return its result."""
        server = self.server
        return self._standin.call(lambda _: function(server))

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def set_propagation_delay(self, seconds: float) -> None:
        self.call(lambda s: s.set_propagation_delay(seconds))

    def set_registration_clock_offset(self, seconds: float) -> None:
        self.call(lambda s: s.set_registration_clock_offset(seconds))

    def grant_scope_access(
        self, org: str, *scopes: str, state: str = APPROVED, owner_org: str = DEFAULT_SCOPE_OWNER
    ) -> None:
        self.call(lambda s: s.grant_scope_access(org, *scopes, state=state, owner_org=owner_org))

    def add_public_scope(self, scope: str, owner_org: str = DEFAULT_SCOPE_OWNER) -> None:
        self.call(lambda s: s.add_public_scope(scope, owner_org))

    def register_client(
        self,
        client: Client,
        *,
        client_name: str | None = None,
        description: str = "",
        integration_type: str = INTEGRATION_TYPE,
    ) -> None:
        self.call(
            lambda s: s.register_client(
                client,
                client_name=client_name,
                description=description,
                integration_type=integration_type,
            )
        )

    def client_document(self, client_id: str) -> dict[str, Any] | None:
        return self.call(lambda s: s.client_document(client_id))

    def jwks_document(self, client_id: str) -> dict[str, Any] | None:
        return self.call(lambda s: s.jwks_document(client_id))

    def set_latency(self, seconds: float) -> None:
        self.call(lambda s: s.set_latency(seconds))

    def fail_next(
        self,
        count: int,
        status: int = 503,
        body: str = DEFAULT_FAILURE_BODY,
        content_type: str = JSON,
    ) -> None:
        self.call(lambda s: s.fail_next(count, status, body, content_type))

    def set_outage(self, start: float, end: float) -> None:
        self.call(lambda s: s.set_outage(start, end))

    def clear_faults(self) -> None:
        self.call(lambda s: s.clear_faults())

    def refuse_connections(self) -> None:
        self._standin.run(self.server.refuse_connections())

    def accept_connections(self) -> None:
        self._standin.run(self.server.accept_connections())

    def requests(self, org: str | None = None) -> list[ApiRequestRecord]:
        return self.call(lambda s: s.requests(org))

    def request_count(self, org: str | None = None) -> int:
        return self.call(lambda s: s.request_count(org))

    def clear_requests(self) -> None:
        self.call(lambda s: s.clear_requests())
