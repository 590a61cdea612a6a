"""What the operator remembers about one resource between its reconciliations.

:func:`~maskinporten_operator.reconcile.reconciler.reconcile` is the one writer: the steps it
calls return what they learnt, and it records that here.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from maskinporten_operator.credentials.keys import ClientKey
from maskinporten_operator.ports import RegisteredClient, RegisteredJwks
from maskinporten_operator.reconcile.delivery import PromptRefusal
from maskinporten_operator.reconcile.ring import KeyRing
from maskinporten_operator.reconcile.schedule import FailureStreak, RefreshPlan
from maskinporten_operator.reconcile.secret_bodies import IssuedToken

NO_FAILURES = FailureStreak()
"""The healthy state, one object for every resource's streaks (a streak is never changed,
only replaced)."""


@dataclass(frozen=True, slots=True)
class TokenSlot:
    token: IssuedToken
    plan: RefreshPlan


@dataclass(frozen=True, slots=True, weakref_slot=True)
class KnownKey:
    """A key read from its Secret, and a digest of what it was read from."""

    digest: bytes
    key: ClientKey


class SharedKeys:
    """The keys read from key Secrets by the digest of what each was read from, so that the
    clients using one key Secret version (or copies of it) hold one parsed key (about 3 KiB
    each, most of it OpenSSL's). Held weakly: a key goes with the last client that remembers
    it, so the cache holds no more keys than the clients use."""

    def __init__(self) -> None:
        self._by_digest: weakref.WeakValueDictionary[bytes, KnownKey] = (
            weakref.WeakValueDictionary()
        )

    def get(self, digest: bytes) -> KnownKey | None:
        return self._by_digest.get(digest)

    def add(self, known: KnownKey) -> KnownKey:
        """Keep ``known`` (replacing a key read earlier from the same material) and return it."""
        self._by_digest[known.digest] = known
        return known


@dataclass(frozen=True, slots=True)
class KnownRegistration:
    """The managed client as Digdir last answered it, and whether a grant signed with the
    operator's key has been accepted since that key was registered."""

    client: RegisteredClient
    jwks: RegisteredJwks
    accepted: bool = False


@dataclass(frozen=True, slots=True)
class ReadyState:
    """What the last Event on readiness marked: ready or not, the reason, and a failure's cause
    (None when ready: a success's message, new expiry times, is routine)."""

    ready: bool
    reason: str | None
    cause: str | None


@dataclass(slots=True)
class ClientMemory:
    """What the operator remembers about one resource between reconciliations."""

    tokens: dict[str, TokenSlot] = field(default_factory=dict)
    failures: FailureStreak = NO_FAILURES
    """Failed reconciliations in a row."""
    key: KnownKey | None = None
    """The key last read: an unchanged key Secret is not parsed (nor checked) again."""
    ring: KeyRing | None = None
    """A managed client's keys as last read from (or written to) its key Secret."""
    registration: KnownRegistration | None = None
    """A managed client's registration, so that an unchanged one costs no API call."""
    registration_failures: FailureStreak = NO_FAILURES
    """Failed registrations in a row while tokens kept coming (their back-off)."""
    pending_refusals: FailureStreak = NO_FAILURES
    """Grants signed with a pending key refused in a row past Digdir's propagation window."""
    handled_rotation: str | None = None
    """The rotate-key request last handled. The status that records it comes back through the
    watch and can lag behind the operator's own write: a request is not handled twice."""
    handled_force_refresh: str | None = None
    """The force-refresh request last handled, for the same reason."""
    secret_name_taken: str | None = None
    """The workload Secret's name when it was last found taken by a Secret this resource does
    not own: that Secret is then read before any token is requested, until the name is free."""
    prompt_refused: PromptRefusal | None = None
    """Why the last prompt of the client's labelled pods was refused; None when it worked (or
    none was tried yet): what the last ``PodPromptRefused`` or ``PodsPrompted`` Event marked."""
    reported: ReadyState | None = None
    """What the last readiness Event marked; None before the first reconciliation (the status's
    Ready condition says it then)."""

    def earliest_expiry(self) -> float | None:
        """When the first of the tokens held expires (Unix time), past or not; None without."""
        return min((slot.token.expires_at for slot in self.tokens.values()), default=None)

    def earliest_valid_expiry(self, now: float) -> float | None:
        valid = [
            slot.token.expires_at for slot in self.tokens.values() if slot.token.expires_at > now
        ]
        return min(valid, default=None)

    def earliest_key_registration_expiry(self) -> float | None:
        """When the first of a managed client's registered keys expires at Digdir (Unix time);
        None for a client with a clientId, or before registration."""
        if self.registration is None or self.ring is None:
            return None
        jwks = self.registration.jwks
        expiries = [
            entry.expires_at
            for ring_key in self.ring.keys
            if (entry := jwks.key(ring_key.kid)) is not None and entry.expires_at is not None
        ]
        return min(expiries, default=None)
