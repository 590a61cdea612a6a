"""The stand-in on a background thread with its own event loop, behind a synchronous handle.

For tests whose own code runs elsewhere (an operator in another thread or process): every
method hops onto the server's loop, so the handle is safe to use from any thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from cryptography import x509

from .model import Client, RequestRecord
from .server import MaskinportenStandin
from .state import DEFAULT_FAILURE_BODY

T = TypeVar("T")
TIMEOUT = 30.0


class StandinThread:
    """Synchronous, thread-safe handle; use as a context manager or call ``start``/``stop``."""

    def __init__(self, standin: MaskinportenStandin | None = None) -> None:
        """``standin``: a configured server that has not started; a default one otherwise."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="maskinporten-standin", daemon=True
        )
        self._standin = standin or MaskinportenStandin()

    def start(self) -> StandinThread:
        self._thread.start()
        try:
            self._await(self._standin.start())
        except BaseException:
            self._end_loop()
            raise
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            self._await(self._standin.stop())
        finally:
            self._end_loop()

    def _end_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(TIMEOUT)
        self._loop.close()

    def __enter__(self) -> StandinThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _await(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(TIMEOUT)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the server's loop (for servers sharing it) and return its result."""
        return self._await(coroutine)

    def call(self, function: Callable[[MaskinportenStandin], T]) -> T:
        """Run ``function`` with the server object on the server's loop and return its result."""

        async def run() -> T:
            return function(self._standin)

        return self._await(run())

    @property
    def port(self) -> int:
        return self._standin.port

    @property
    def issuer(self) -> str:
        return self._standin.issuer

    @property
    def token_endpoint(self) -> str:
        return self._standin.token_endpoint

    @property
    def jwks_uri(self) -> str:
        return self._standin.jwks_uri

    @property
    def metadata_url(self) -> str:
        return self._standin.metadata_url

    @property
    def base_url(self) -> str:
        return self._standin.base_url

    @property
    def altinn_exchange_url(self) -> str:
        return self._standin.altinn_exchange_url

    def register_client(self, client: Client) -> None:
        self.call(lambda s: s.register_client(client))

    def remove_client(self, client_id: str) -> None:
        self.call(lambda s: s.remove_client(client_id))

    def trust_ca(self, certificate: x509.Certificate) -> None:
        self.call(lambda s: s.trust_ca(certificate))

    def set_lifetime(self, scope: str, seconds: int) -> None:
        self.call(lambda s: s.set_lifetime(scope, seconds))

    def set_clock_offset(self, seconds: float) -> None:
        self.call(lambda s: s.set_clock_offset(seconds))

    def now(self) -> float:
        return self.call(lambda s: s.clock.now())

    def set_latency(self, seconds: float) -> None:
        self.call(lambda s: s.set_latency(seconds))

    def fail_next(
        self,
        count: int,
        status: int = 503,
        body: str = DEFAULT_FAILURE_BODY,
        content_type: str = "application/json",
    ) -> None:
        self.call(lambda s: s.fail_next(count, status, body, content_type))

    def set_client_latency(self, client_id: str, seconds: float) -> None:
        self.call(lambda s: s.set_client_latency(client_id, seconds))

    def fail_client(
        self,
        client_id: str,
        count: int,
        status: int = 503,
        body: str = DEFAULT_FAILURE_BODY,
        content_type: str = "application/json",
    ) -> None:
        self.call(lambda s: s.fail_client(client_id, count, status, body, content_type))

    def set_outage(self, start: float, end: float) -> None:
        self.call(lambda s: s.set_outage(start, end))

    def clear_faults(self) -> None:
        self.call(lambda s: s.clear_faults())

    def refuse_connections(self) -> None:
        self._await(self._standin.refuse_connections())

    def accept_connections(self) -> None:
        self._await(self._standin.accept_connections())

    def requests(self, client_id: str | None = None) -> list[RequestRecord]:
        return self.call(lambda s: s.requests(client_id))

    def token_request_count(self, client_id: str | None = None) -> int:
        return self.call(lambda s: s.token_request_count(client_id))

    def clear_requests(self) -> None:
        self.call(lambda s: s.clear_requests())

    def issued_tokens(self) -> list[str]:
        return self.call(lambda s: s.issued_tokens())
