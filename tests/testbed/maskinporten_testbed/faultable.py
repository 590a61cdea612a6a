"""What the Maskinporten and self-service API stand-ins share: faults that tests inject at run
time (latency, failures, an outage) and the log of the requests answered, by party (a client,
an organisation)."""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from aiohttp import web

from .site import LoopbackSite

JSON = "application/json"
REQUEST_LOG_SIZE = 10_000
OUTAGE_BODY = json.dumps(
    {"error": "temporarily_unavailable", "error_description": "Service unavailable"}
)
DEFAULT_FAILURE_BODY = json.dumps({"error": "server_error", "error_description": "Injected fault"})

R = TypeVar("R")


@dataclass(frozen=True)
class CannedResponse:
    """A fault answer sent instead of processing the request."""

    status: int
    body: str
    content_type: str
    outcome: str


class Faults:
    """Faults injected at runtime: for every request, or for one client's."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.latency = 0.0
        self.outage: tuple[float, float] | None = None
        self._remaining = 0
        self._failure: CannedResponse | None = None
        self.client_latency: dict[str, float] = {}
        self._client_failures: dict[str, tuple[int, CannedResponse]] = {}

    def fail_next(self, count: int, status: int, body: str, content_type: str) -> None:
        self._remaining = count
        self._failure = CannedResponse(status, body, content_type, f"fault:{status}")

    def fail_client(
        self, client_id: str, count: int, status: int, body: str, content_type: str
    ) -> None:
        """Answer the next ``count`` requests whose grant names ``client_id`` with ``status``."""
        failure = CannedResponse(status, body, content_type, f"fault:{status}")
        self._client_failures[client_id] = (count, failure)

    def take(self, now: float, client_id: str | None = None) -> CannedResponse | None:
        """The answer a fault imposes on a request arriving ``now`` (from ``client_id``, when
        its grant could be read), if any."""
        if self.outage is not None and self.outage[0] <= now < self.outage[1]:
            return CannedResponse(503, OUTAGE_BODY, JSON, "outage:503")
        remaining, failure = self._client_failures.get(client_id or "", (0, None))
        if remaining > 0 and failure is not None:
            self._client_failures[client_id or ""] = (remaining - 1, failure)
            return failure
        if self._remaining > 0 and self._failure is not None:
            self._remaining -= 1
            return self._failure
        return None


class RequestLog(Generic[R]):
    """The last ``REQUEST_LOG_SIZE`` requests answered, and how many were answered per party
    (counted beyond the log's size)."""

    def __init__(self, party: Callable[[R], str | None]) -> None:
        self._party = party
        self._entries: deque[R] = deque(maxlen=REQUEST_LOG_SIZE)
        self._counts: Counter[str | None] = Counter()

    def append(self, entry: R) -> None:
        self._entries.append(entry)
        self._counts[self._party(entry)] += 1

    def entries(self, party: str | None = None) -> list[R]:
        return [e for e in self._entries if party is None or self._party(e) == party]

    def count(self, party: str | None = None) -> int:
        return self._counts.total() if party is None else self._counts[party]

    def clear(self) -> None:
        self._entries.clear()
        self._counts.clear()


class FaultableSite(LoopbackSite, Generic[R]):
    """A loopback site that tests can make slow, failing or down, logging what it answered.

    Methods that change state are plain (call them on the server's loop).
    """

    def __init__(
        self, app: web.Application, *, host: str, port: int, party: Callable[[R], str | None]
    ) -> None:
        super().__init__(app, host=host, port=port)
        self.faults = Faults()
        self.request_log: RequestLog[R] = RequestLog(party)

    def set_latency(self, seconds: float) -> None:
        self.faults.latency = seconds

    def fail_next(
        self,
        count: int,
        status: int = 503,
        body: str = DEFAULT_FAILURE_BODY,
        content_type: str = JSON,
    ) -> None:
        """Answer the next ``count`` requests with ``status`` and ``body``, unchecked.

        ``content_type`` is a bare MIME type (no ``charset``); bodies go out as UTF-8.
        """
        self.faults.fail_next(count, status, body, content_type)

    def set_outage(self, start: float, end: float) -> None:
        """Answer 503 from ``start`` to ``end`` (server clock, epoch seconds)."""
        self.faults.outage = (start, end)

    def clear_faults(self) -> None:
        self.faults.clear()

    def requests(self, party: str | None = None) -> list[R]:
        """The logged requests (of ``party``, or all)."""
        return self.request_log.entries(party)

    def request_count(self, party: str | None = None) -> int:
        """Requests (of ``party``, or all) since the start or the last :meth:`clear_requests`:
        counted, unlike :meth:`requests`, beyond the log's last ``REQUEST_LOG_SIZE`` entries."""
        return self.request_log.count(party)

    def clear_requests(self) -> None:
        self.request_log.clear()
