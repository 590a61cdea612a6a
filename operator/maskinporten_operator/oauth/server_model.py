"""What an authorization server answers, and how a request to it fails: the data types the
reconcile core and the CLI share with the HTTP client (:mod:`.authserver`), without loading
httpx.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from maskinporten_operator.reasons import Reason


@dataclass(frozen=True)
class ServerMetadata:
    issuer: str
    token_endpoint: str
    jwks_uri: str
    well_known_url: str
    authorization_details_types: tuple[str, ...] | None = None
    """``authorization_details_types_supported`` (RFC 9396 section 10), None when the server
    declares none."""


@dataclass(frozen=True)
class TokenResponse:
    access_token: str = field(repr=False)
    expires_in: int
    document: Mapping[str, object] = field(default_factory=dict, repr=False, compare=False)
    """The whole JSON answer (it holds the token too)."""


class TokenRequestError(Exception):
    """A request to the authorization server failed; ``reason`` says how:

    - ``ServerUnreachable``: no answer (timeout, connection, proxy, TLS, a URL the HTTP client
      cannot use);
    - ``ServerError``: an answer with HTTP 5xx or 429;
    - ``TokenRequestRejected``: the token endpoint answered 4xx (a person must fix something);
    - ``BadResponse``: a token endpoint's 200 answer that is not a usable token response;
    - ``BadMetadata``: the metadata URL answered 4xx, or a document that is not usable metadata;
    - ``AltinnExchangeFailed``: Altinn's token exchange answered without a token.

    ``error`` and ``description`` are the server's OAuth ``error`` and ``error_description``,
    as ``bounded`` leaves them; ``code`` is Maskinporten's error code in the description
    (``MP-121``), None when it has none.
    The message never holds a grant or a token.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: Reason,
        error: str | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.error = error
        self.description = description

    @property
    def code(self) -> str | None:
        return maskinporten_code(self.description)


_MASKINPORTEN_CODE = re.compile(r"\bMP-[0-9]{3}\b")


def maskinporten_code(description: str | None) -> str | None:
    """The first ``MP-nnn`` error code in a Maskinporten ``error_description``, else None.
    Source: ``docs/maskinporten-facts.md``, "The JWT grant" (errors)."""
    found = _MASKINPORTEN_CODE.search(description or "")
    return found.group() if found else None


SERVER_TEXT_MAX_CHARS = 300
"""The most characters of a server's ``error`` or ``error_description`` kept in an error (and so
in conditions, Events and logs), ellipsis included."""
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def bounded(text: str) -> str:
    """A server's text made safe to repeat: each run of control characters (line breaks, tabs,
    escapes) becomes one space, and past ``SERVER_TEXT_MAX_CHARS`` it is cut, ending in "…"."""
    line = _CONTROL_CHARACTERS.sub(" ", text).strip()
    if len(line) <= SERVER_TEXT_MAX_CHARS:
        return line
    return line[: SERVER_TEXT_MAX_CHARS - 1] + "…"
