"""Mutable server state: registered clients, trusted CAs, token lifetimes, used grants, faults."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography import x509

from .model import Client

JTI_MEMORY_MARGIN = 10.0
"""Seconds a used ``jti`` is remembered past its grant's ``exp`` (the allowed ``iat`` skew)."""


class Registry:
    """What Digdir's self-service would hold, plus the ``jti`` values already used."""

    def __init__(
        self,
        default_lifetime: int,
        lifetimes: Mapping[str, int],
        trusted_cas: Iterable[x509.Certificate],
    ) -> None:
        self.clients: dict[str, Client] = {}
        self.trusted_cas = list(trusted_cas)
        self.default_lifetime = default_lifetime
        self.lifetimes = dict(lifetimes)
        self._used: dict[tuple[str, str], float] = {}

    def lifetime(self, scopes: Iterable[str]) -> int:
        """The API owners' ``at_max_age``: the lowest across the granted scopes wins."""
        return min(self.lifetimes.get(scope, self.default_lifetime) for scope in scopes)

    def first_use(self, client_id: str, jti: str, grant_exp: float, now: float) -> bool:
        """Record a grant id; False when it was seen before. Expired entries are forgotten."""
        self._used = {key: until for key, until in self._used.items() if until > now}
        key = (client_id, jti)
        if key in self._used:
            return False
        self._used[key] = grant_exp + JTI_MEMORY_MARGIN
        return True


@dataclass(frozen=True)
class CannedResponse:
    """A fault answer sent instead of processing the request."""

    status: int
    body: str
    content_type: str
    outcome: str


OUTAGE_BODY = json.dumps(
    {"error": "temporarily_unavailable", "error_description": "Service unavailable"}
)
DEFAULT_FAILURE_BODY = json.dumps({"error": "server_error", "error_description": "Injected fault"})


class Faults:
    """Faults injected into ``/token`` at runtime."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.latency = 0.0
        self.outage: tuple[float, float] | None = None
        self._remaining = 0
        self._failure: CannedResponse | None = None

    def fail_next(self, count: int, status: int, body: str, content_type: str) -> None:
        self._remaining = count
        self._failure = CannedResponse(status, body, content_type, f"fault:{status}")

    def take(self, now: float) -> CannedResponse | None:
        """The answer a fault imposes on a request arriving ``now``, if any."""
        if self.outage is not None and self.outage[0] <= now < self.outage[1]:
            return CannedResponse(503, OUTAGE_BODY, "application/json", "outage:503")
        if self._remaining > 0 and self._failure is not None:
            self._remaining -= 1
            return self._failure
        return None
