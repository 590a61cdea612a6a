"""What the stand-in knows: clients, their keys, its clock, and the errors it answers with."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GRANT_ALGORITHMS = ("RS256", "RS384", "RS512")
ALLOWED_CLAIMS = frozenset(
    {
        "aud",
        "iss",
        "scope",
        "iat",
        "exp",
        "jti",
        "resource",
        "consumer_org",
        "iss_onbehalfof",
        "authorization_details",
    }
)
MAX_KEYS_PER_CLIENT = 5
ORG_NUMBER = re.compile(r"^[0-9]{9}$")
_KID = re.compile(r"^[A-Za-z0-9._-]+$")
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})


class Clock:
    """The server's time: the wall clock plus an offset tests may change, to move the server in
    time. The server's own waits (answer latency, refusing connections for a while) are on it."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def now(self) -> float:
        return time.time() + self.offset

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FrozenClock(Clock):
    """Time standing still at ``at`` (plus the offset) until :meth:`advance` moves it: a test
    builds its grants at the very instant the server checks them, however slow the machine.

    A sleep on it ends when ``advance`` reaches its end, never by itself. Use it on the loop
    the server runs on.
    """

    def __init__(self, at: float | None = None, offset: float = 0.0) -> None:
        """``at``: Unix time to stand still at (default: when made)."""
        super().__init__(offset)
        self._at = time.time() if at is None else at
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._at + self.offset

    @property
    def sleepers(self) -> int:
        """How many sleeps are waiting for the clock to be advanced."""
        return len(self._sleepers)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        sleeper = (self._at + seconds, asyncio.get_running_loop().create_future())
        self._sleepers.append(sleeper)
        try:
            await sleeper[1]
        finally:
            self._sleepers.remove(sleeper)

    def advance(self, seconds: float) -> None:
        self._at += seconds
        for end, wake in self._sleepers:
            if end <= self._at and not wake.done():
                wake.set_result(None)


class GrantError(Exception):
    """A rejected token request: ``error_description`` starts with the Maskinporten code."""

    def __init__(self, error: str, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.error = error
        self.code = code
        self.status = status

    @property
    def description(self) -> str:
        return str(self)


def invalid_grant(code: str, detail: str) -> GrantError:
    message = f"Invalid assertion. Client authentication failed. {detail}"
    return GrantError("invalid_grant", code, message)


def invalid_request(detail: str) -> GrantError:
    return GrantError("invalid_request", "MP-011", detail)


@dataclass(frozen=True)
class RegisteredKey:
    """A public JWK registered on a client, as Digdir accepts them.

    ``expires_at`` (server clock, epoch seconds) models Digdir's one-year key lifetime. A key
    registered before Digdir made ``use`` mandatory (May 2025) may lack it; the self-service API
    refuses to take such a key again (:mod:`maskinporten_testbed.selfservice.rules`).
    """

    jwk: dict[str, Any]
    expires_at: float | None = None

    def __post_init__(self) -> None:
        jwk = self.jwk
        if jwk.get("kty") != "RSA" or jwk.get("alg") != "RS256" or jwk.get("use", "sig") != "sig":
            raise ValueError("a registered key must have kty RSA, alg RS256 and use sig")
        if not isinstance(jwk.get("kid"), str) or not _KID.fullmatch(jwk["kid"]):
            raise ValueError("a registered key needs a kid of letters, digits and ._-")
        if _PRIVATE_MEMBERS & jwk.keys():
            raise ValueError("a registered key must be public")
        try:
            size = RSAKey.import_key(jwk).raw_value.key_size
        except (JoseError, ValueError, TypeError) as error:
            raise ValueError(f"not a usable RSA JWK: {error}") from error
        if size != 2048:
            raise ValueError("a registered key must be RSA 2048")

    @property
    def kid(self) -> str:
        return str(self.jwk["kid"])


@dataclass(frozen=True)
class Client:
    """A Maskinporten client.

    Without ``keys`` it authenticates with a business certificate (``x5c``) of its own org;
    ``delegations`` maps a consumer org to the scopes it delegated to this client's org;
    ``access_token_lifetime`` is the lifetime registered on the client (seconds), None for a
    client registered here without one (see :meth:`.state.Registry.lifetime`).
    """

    client_id: str
    org: str
    scopes: frozenset[str]
    keys: tuple[RegisteredKey, ...] = ()
    resources: frozenset[str] = frozenset()
    delegations: Mapping[str, frozenset[str]] = field(default_factory=dict)
    access_token_lifetime: int | None = None

    def __post_init__(self) -> None:
        orgs = [self.org, *self.delegations]
        if not all(ORG_NUMBER.fullmatch(org) for org in orgs):
            raise ValueError("an organisation number has 9 digits")
        if len(self.keys) > MAX_KEYS_PER_CLIENT:
            raise ValueError(f"a client holds at most {MAX_KEYS_PER_CLIENT} keys")
        if len({key.kid for key in self.keys}) != len(self.keys):
            raise ValueError("key ids must be unique")

    def key(self, kid: str) -> RegisteredKey | None:
        return next((key for key in self.keys if key.kid == kid), None)


@dataclass(frozen=True)
class RequestRecord:
    """One call to ``/token``: never the grant or the token, only who, when and the outcome."""

    at: float
    client_id: str | None
    status: int
    outcome: str
