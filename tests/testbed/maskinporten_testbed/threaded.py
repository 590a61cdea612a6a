"""A stand-in on a background thread's event loop, behind a synchronous handle.

For tests whose own code runs elsewhere (an operator in another thread or process): every
method hops onto the server's loop, so a handle is safe to use from any thread. What the
Maskinporten and self-service API stand-ins' handles share.
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from .faultable import DEFAULT_FAILURE_BODY, JSON, FaultableSite

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S", bound=FaultableSite[Any])
TIMEOUT = 30.0


class LoopThread:
    """An event loop running on a daemon thread of its own."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(TIMEOUT)
        self._loop.close()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(TIMEOUT)


class SiteHandle(ABC, Generic[S, R]):
    """Synchronous, thread-safe handle on a stand-in ``S`` (logging requests as ``R``) served on
    ``loop``; use as a context manager or call ``start``/``stop``."""

    def __init__(self, loop: LoopThread, server: S | None = None) -> None:
        self.loop = loop
        self._server = server

    @abstractmethod
    def start(self) -> Self: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def server(self) -> S:
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        return self._server

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the server's loop (for servers sharing it) and return its result."""
        return self.loop.run(coroutine)

    def call(self, function: Callable[[S], T]) -> T:
        """Run ``function`` with the server object on the server's loop and return its result."""
        server = self.server

        async def on_loop() -> T:
            return function(server)

        return self.run(on_loop())

    def _site(self) -> FaultableSite[R]:
        return self.server

    @property
    def port(self) -> int:
        return self.server.port

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
        self.run(self.server.refuse_connections())

    def accept_connections(self) -> None:
        self.run(self.server.accept_connections())

    def requests(self, party: str | None = None) -> list[R]:
        site = self._site()
        return self.call(lambda _: site.requests(party))

    def request_count(self, party: str | None = None) -> int:
        return self.call(lambda s: s.request_count(party))

    def clear_requests(self) -> None:
        self.call(lambda s: s.clear_requests())
