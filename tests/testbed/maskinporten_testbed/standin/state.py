"""Mutable server state: registered clients, trusted CAs, token lifetimes, used grants.

Registration changes may be scheduled to reach the token endpoint later (Digdir documents a
delay of 0-2 minutes between the self-service API's answer and Maskinporten acting on it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography import x509

from .model import Client

JTI_MEMORY_MARGIN = 10.0
"""Seconds a used ``jti`` is remembered past its grant's ``exp`` (the allowed ``iat`` skew)."""


@dataclass(frozen=True)
class PendingChange:
    """A registration change the token endpoint acts on from ``effective_at`` (server clock)."""

    effective_at: float
    client_id: str
    client: Client | None
    """The client's new state; None when it is deleted."""


class Registry:
    """What Digdir's self-service would hold, plus the ``jti`` values already used.

    ``clients`` is what the token endpoint acts on; changes made through the self-service API
    wait in a queue until their time comes (:meth:`schedule`, :meth:`client`).
    """

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
        self._pending: list[PendingChange] = []

    def put(self, client: Client) -> None:
        """Register or replace a client at once, dropping changes scheduled for it."""
        self._drop_pending(client.client_id)
        self.clients[client.client_id] = client

    def remove(self, client_id: str) -> None:
        """Remove a client at once, dropping changes scheduled for it."""
        self._drop_pending(client_id)
        self.clients.pop(client_id, None)

    def schedule(self, client_id: str, client: Client | None, effective_at: float) -> None:
        """Make ``client`` (None: no such client) what the token endpoint sees from
        ``effective_at`` on; a client's changes take effect in the order they were scheduled."""
        earlier = [c.effective_at for c in self._pending if c.client_id == client_id]
        self._pending.append(PendingChange(max([effective_at, *earlier]), client_id, client))

    def client(self, client_id: str, now: float) -> Client | None:
        """The client as the token endpoint sees it at ``now`` (changes due by then applied)."""
        due = [c for c in self._pending if c.effective_at <= now]
        if due:
            self._pending = [c for c in self._pending if c.effective_at > now]
            for change in sorted(due, key=lambda c: c.effective_at):
                if change.client is None:
                    self.clients.pop(change.client_id, None)
                else:
                    self.clients[change.client_id] = change.client
        return self.clients.get(client_id)

    def latest(self, client_id: str) -> Client | None:
        """The client's newest state, scheduled changes included: what the self-service API
        shows."""
        for change in reversed(self._pending):
            if change.client_id == client_id:
                return change.client
        return self.clients.get(client_id)

    def latest_clients(self) -> list[Client]:
        """Every client in its newest state (see :meth:`latest`)."""
        ids = dict.fromkeys([*self.clients, *(c.client_id for c in self._pending)])
        return [client for i in ids if (client := self.latest(i)) is not None]

    def _drop_pending(self, client_id: str) -> None:
        self._pending = [c for c in self._pending if c.client_id != client_id]

    def lifetime(self, scopes: Iterable[str], client_lifetime: int | None = None) -> int:
        """A token's lifetime: the client's ``access_token_lifetime`` capped by the API owners'
        ``at_max_age`` of each granted scope (``lifetimes``), the lowest winning. A client
        without a registered lifetime gets each scope's lifetime, ``default_lifetime`` where
        none is set (the lowest across the scopes)."""
        if client_lifetime is None:
            return min(self.lifetimes.get(scope, self.default_lifetime) for scope in scopes)
        caps = [self.lifetimes[scope] for scope in scopes if scope in self.lifetimes]
        return min([client_lifetime, *caps])

    def first_use(self, client_id: str, jti: str, grant_exp: float, now: float) -> bool:
        """Record a grant id; False when it was seen before. Expired entries are forgotten."""
        self._used = {key: until for key, until in self._used.items() if until > now}
        key = (client_id, jti)
        if key in self._used:
            return False
        self._used[key] = grant_exp + JTI_MEMORY_MARGIN
        return True
