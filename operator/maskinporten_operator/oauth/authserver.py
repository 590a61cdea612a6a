"""The authorization server client: metadata discovery and token requests.

Maskinporten's JWT-bearer grant (RFC 7523 section 2.1), and generic OAuth 2.0 client credentials
with ``private_key_jwt`` client authentication (RFC 7523 section 2.2).

httpx, async, with bounded timeouts, the proxy taken from the environment (``HTTPS_PROXY``,
``NO_PROXY``), and optionally a private CA's certificates trusted (``ca_bundle``). Every failure
is a ``TokenRequestError``; errors carry the server's ``error`` and ``error_description`` on one
line and bounded in length (see ``bounded``); they never carry the grant or a token. A refused
request's error also says when this machine's clock is off from the server's ``Date``
(:mod:`.clock_skew`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeGuard

import httpx

from maskinporten_operator.oauth.clock_skew import clock_skew_note
from maskinporten_operator.oauth.failures import copy_for_waiter, failure_summary, is_rejection
from maskinporten_operator.oauth.grant import (
    CLIENT_ASSERTION_TYPE,
    CLIENT_CREDENTIALS_GRANT_TYPE,
    GRANT_TYPE,
)
from maskinporten_operator.oauth.server_model import (
    ServerMetadata,
    TokenRequestError,
    TokenResponse,
    bounded,
)
from maskinporten_operator.reasons import Reason

log = logging.getLogger(__name__)


METADATA_PATHS = (".well-known/oauth-authorization-server", ".well-known/openid-configuration")
"""Where an issuer's metadata is looked for, appended to the issuer, in this order: RFC 8414's
(section 3; Maskinporten's), then OpenID Connect Discovery 1.0's (section 4; RFC 8414 section 5
lets clients use it), the only one servers such as Duende IdentityServer and HelseID serve. The
second is asked only when the first answers 404."""
METADATA_MAX_AGE_SECONDS = 3600.0
"""Metadata younger than this (seconds, by the client's clock) is served without a request."""
METADATA_STALE_LIMIT_SECONDS = 86_400.0
"""When a refresh fails, the last good metadata is served for up to this long (seconds) past
``METADATA_MAX_AGE_SECONDS``, a day, so that a broken metadata URL does not stop token requests
to an endpoint that still works; past it the refresh's error is raised."""
_METADATA_SERVED_UNTIL_AGE = METADATA_MAX_AGE_SECONDS + METADATA_STALE_LIMIT_SECONDS


@dataclass(frozen=True)
class _CachedMetadata:
    fetched_at: float
    metadata: ServerMetadata


def ca_bundle_ssl_context(ca_bundle: str) -> ssl.SSLContext:
    """TLS settings for an HTTP client that trusts the CA certificates in the PEM file
    ``ca_bundle`` as well as httpx's defaults (certifi's public CAs, or ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR`` when set). For any server the operator calls over https.

    Raises ``OSError`` when the file cannot be read, ``ssl.SSLError`` when it holds no
    certificate.
    """
    context = httpx.create_ssl_context(trust_env=True)
    context.load_verify_locations(cafile=ca_bundle)
    return context


class AuthorizationServerClient:
    """One per process: an HTTP connection pool and the metadata cache. Every method raises
    ``TokenRequestError`` and nothing else for whatever goes wrong with the server or the way
    to it."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        ca_bundle: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``timeout_seconds`` bounds each request. ``ca_bundle``: path of a PEM file of CA
        certificates to trust in addition to the public ones (see ``ca_bundle_ssl_context``).
        ``clock`` (seconds, monotonic) ages the metadata cache; ``wall_clock`` (Unix time) is
        compared with a refusing server's ``Date``. ``transport`` replaces the
        network (tests); the environment's proxy settings are then not used.

        Raises ``OSError`` or ``ssl.SSLError`` when ``ca_bundle`` cannot be read or holds no
        certificate (``settings.readable_ca_bundle`` checks that at start-up).
        """
        self._clock = clock
        self._wall_clock = wall_clock
        verify: ssl.SSLContext | bool = (
            True if ca_bundle is None else ca_bundle_ssl_context(ca_bundle)
        )
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds),
            verify=verify,
            trust_env=transport is None,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "maskinporten-operator"},
        )
        self._metadata: dict[str, _CachedMetadata] = {}
        self._fetching: dict[str, asyncio.Task[ServerMetadata]] = {}

    async def aclose(self) -> None:
        """Cancel metadata requests in flight and close the connections."""
        fetching = list(self._fetching.values())
        for task in fetching:
            task.cancel()
        await asyncio.gather(*fetching, return_exceptions=True)
        await self._http.aclose()

    async def metadata(self, issuer: str) -> ServerMetadata:
        """RFC 8414 metadata of ``issuer`` (ending in a slash or not), from
        ``{issuer}/.well-known/oauth-authorization-server``, or when that is not found (404)
        from ``{issuer}/.well-known/openid-configuration`` (see ``METADATA_PATHS``).

        Cached per issuer for ``METADATA_MAX_AGE_SECONDS``. Callers wanting the same issuer's
        metadata at once share one request (a caller that is cancelled does not cancel it for the
        others); issuers never wait for each other. When a refresh fails, the last good metadata
        is served (and the failure logged) until ``METADATA_STALE_LIMIT_SECONDS`` past its max age.

        Raises ``TokenRequestError`` (reasons ``ServerUnreachable``, ``ServerError``,
        ``BadMetadata``) when there is no metadata to serve.
        """
        cached = self._metadata.get(issuer)
        if cached is not None and self._clock() - cached.fetched_at < METADATA_MAX_AGE_SECONDS:
            return cached.metadata
        try:
            return await asyncio.shield(self._fetch_once(issuer))
        except TokenRequestError as error:
            raise copy_for_waiter(error) from None

    def _fetch_once(self, issuer: str) -> asyncio.Task[ServerMetadata]:
        """The refresh of ``issuer``'s metadata in flight, started if there is none."""
        task = self._fetching.get(issuer)
        if task is None or task.done():
            task = asyncio.create_task(self._refresh(issuer), name=f"metadata {issuer}")
            self._fetching[issuer] = task
            task.add_done_callback(functools.partial(self._refreshed, issuer))
        return task

    def _refreshed(self, issuer: str, task: asyncio.Task[ServerMetadata]) -> None:
        if self._fetching.get(issuer) is task:
            del self._fetching[issuer]
        if not task.cancelled():
            task.exception()  # retrieved here: each caller still waiting raises a copy

    async def _refresh(self, issuer: str) -> ServerMetadata:
        """Fetched metadata, now cached; else the last good metadata within the stale limit."""
        try:
            metadata = await self._fetch(issuer)
        except TokenRequestError as error:
            cached = self._metadata.get(issuer)
            if cached is None:
                raise
            age = self._clock() - cached.fetched_at
            if age >= _METADATA_SERVED_UNTIL_AGE:
                raise
            log.warning(
                "metadata of %s could not be refreshed (%s: %s); using the copy fetched %.0f s ago",
                issuer,
                error.reason,
                error,
                age,
            )
            return cached.metadata
        self._metadata[issuer] = _CachedMetadata(fetched_at=self._clock(), metadata=metadata)
        return metadata

    async def _fetch(self, issuer: str) -> ServerMetadata:
        urls = [issuer.rstrip("/") + "/" + path for path in METADATA_PATHS]
        for url in urls:
            what = f"metadata {url}"
            response = await self._send("GET", url, what=what)
            if response.status_code != 404:
                break
        else:
            what = f"metadata {' and '.join(urls)}"
        if response.status_code != 200:
            raise _error_from_response(response, what, rejected=Reason.BAD_METADATA)
        document = _json_object(response, what, reason=Reason.BAD_METADATA)
        return _parse_metadata(document, issuer, url)

    async def request_token(self, token_endpoint: str, assertion: str) -> TokenResponse:
        """Maskinporten's JWT-bearer grant: the signed grant is the whole request (a form POST to
        ``token_endpoint``). Raises ``TokenRequestError``."""
        form = {"grant_type": GRANT_TYPE, "assertion": assertion}
        return await self._token(token_endpoint, form)

    async def request_client_credentials_token(
        self, token_endpoint: str, client_assertion: str, scopes: Sequence[str]
    ) -> TokenResponse:
        """OAuth 2.0 client credentials, authenticated with a ``private_key_jwt`` assertion.
        Raises ``TokenRequestError``."""
        form = {
            "grant_type": CLIENT_CREDENTIALS_GRANT_TYPE,
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": client_assertion,
        }
        if scopes:
            form["scope"] = " ".join(scopes)
        return await self._token(token_endpoint, form)

    async def _token(self, token_endpoint: str, form: dict[str, str]) -> TokenResponse:
        response = await self._send(
            "POST", token_endpoint, what=f"token request to {token_endpoint}", data=form
        )
        what = f"token endpoint {token_endpoint}"
        if response.status_code != 200:
            raise _error_from_response(response, what, now=self._wall_clock())
        document = _json_object(response, what, reason=Reason.BAD_RESPONSE)
        access_token = document.get("access_token")
        expires_in = document.get("expires_in")
        if not isinstance(access_token, str) or not access_token:
            raise TokenRequestError(
                f"{what} answered 200 without an access_token", reason=Reason.BAD_RESPONSE
            )
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
            raise TokenRequestError(
                f"{what} answered without a positive integer expires_in", reason=Reason.BAD_RESPONSE
            )
        return TokenResponse(
            access_token=access_token,
            expires_in=expires_in,
            document=document,
        )

    async def exchange_for_altinn(self, url: str, maskinporten_token: str) -> str:
        """Altinn's exchange: GET with the Maskinporten token as bearer; the body is the token.
        Raises ``TokenRequestError`` (``AltinnExchangeFailed`` for an answer without one)."""
        what = f"Altinn token exchange {url}"
        bearer = {"Authorization": f"Bearer {maskinporten_token}"}
        response = await self._send("GET", url, what=what, headers=bearer)
        token = response.text.strip().strip('"')
        if response.status_code != 200 or not token:
            raise TokenRequestError(
                f"{what} failed (HTTP {response.status_code})", reason=Reason.ALTINN_EXCHANGE_FAILED
            )
        return token

    async def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """The one place requests leave: whatever the HTTP client raises becomes a
        ``TokenRequestError`` (see ``_not_sent``). Cancellation is not an error and passes."""
        try:
            return await self._http.request(method, url, data=data, headers=headers)
        except Exception as error:  # every failure of the client is translated
            raise _not_sent(error, what) from None


_DESCRIBED_ERRORS = (
    httpx.NetworkError,
    httpx.ProxyError,
    httpx.RemoteProtocolError,
    httpx.UnsupportedProtocol,
    httpx.InvalidURL,
    OSError,
    OverflowError,
)
"""Errors whose message describes the connection or the URL, never what was being sent. Others
(e.g. ``httpx.LocalProtocolError``, which quotes the offending header, bearer token included)
are named by type only."""


def _not_sent(error: Exception, what: str) -> TokenRequestError:
    """Translate anything raised while sending a request and reading its answer.

    Reasons: ``ServerUnreachable`` (no answer: timeouts, refused or broken connections, proxy,
    TLS and protocol failures, URLs the client cannot use, anything unexpected) and
    ``BadResponse`` (an answer whose body cannot be decoded).
    """
    while isinstance(error, ExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]  # anyio's connect wraps a lone failure in a group
    if isinstance(error, httpx.TimeoutException):
        return TokenRequestError(f"{what} timed out", reason=Reason.SERVER_UNREACHABLE)
    if isinstance(error, httpx.DecodingError):
        return TokenRequestError(
            f"{what} failed: the answer's content could not be decoded", reason=Reason.BAD_RESPONSE
        )
    detail = type(error).__name__
    message = str(error) if isinstance(error, _DESCRIBED_ERRORS) else ""
    if message:
        detail += f": {message}"
    return TokenRequestError(f"{what} failed: {detail}", reason=Reason.SERVER_UNREACHABLE)


def _decoded(response: httpx.Response) -> dict[str, object] | None:
    """The body as a JSON object, or None when it is not one (or too deeply nested to decode)."""
    try:
        document = response.json()
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _json_object(response: httpx.Response, what: str, *, reason: Reason) -> dict[str, object]:
    document = _decoded(response)
    if document is None:
        raise TokenRequestError(
            f"{what} answered {response.status_code} with a body that is not a JSON object",
            reason=reason,
        )
    return document


def _error_from_response(
    response: httpx.Response,
    what: str,
    *,
    rejected: Reason = Reason.TOKEN_REQUEST_REJECTED,
    now: float | None = None,
) -> TokenRequestError:
    """A non-200 answer. Client errors (4xx but 429) are rejections a person must fix, with reason
    ``rejected``; the rest are server trouble (``ServerError``). The server's OAuth ``error`` and
    ``error_description`` are kept, ``bounded``; any other body is left out. With ``now`` (Unix
    time), a rejection's message says when the server's ``Date`` is more than a few seconds off
    from it."""
    document = _decoded(response) or {}
    error = _bounded_text(document.get("error"))
    description = _bounded_text(document.get("error_description"))
    status = response.status_code
    summary = failure_summary(what, status, error, description)
    skew = clock_skew_note(response.headers.get("Date"), now) if now is not None else ""
    if skew and is_rejection(status):
        summary += f"; {skew}"
    return TokenRequestError(
        summary,
        reason=rejected if is_rejection(status) else Reason.SERVER_ERROR,
        error=error,
        description=description,
    )


def _bounded_text(value: object) -> str | None:
    return bounded(value) if isinstance(value, str) else None


def _parse_metadata(document: dict[str, object], issuer: str, url: str) -> ServerMetadata:
    """The server's own spelling of its issuer wins when it differs only by a trailing slash
    (Maskinporten's ends in one, Keycloak's and many others' do not): it is the grant's aud.
    Without a ``jwks_uri`` the keys are taken to be at ``jwk`` under the issuer, as Maskinporten's.

    Raises ``TokenRequestError`` (``BadMetadata``) for another issuer, or a ``token_endpoint`` or
    ``jwks_uri`` that is not an absolute http(s) URL.
    """
    declared = document.get("issuer")
    if not isinstance(declared, str) or declared.rstrip("/") != issuer.rstrip("/"):
        raise TokenRequestError(
            f"metadata {url} declares issuer {declared!r:.200}, expected {issuer!r}",
            reason=Reason.BAD_METADATA,
        )
    return ServerMetadata(
        issuer=declared,
        token_endpoint=_endpoint(document, "token_endpoint", url),
        jwks_uri=_endpoint(document, "jwks_uri", url, default=declared.rstrip("/") + "/jwk"),
        well_known_url=url,
        authorization_details_types=_strings(document.get("authorization_details_types_supported")),
    )


def _strings(value: object) -> tuple[str, ...] | None:
    """An array of strings as a tuple; None for anything else (absent, or not such an array)."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def _endpoint(document: dict[str, object], name: str, url: str, default: str | None = None) -> str:
    value = document.get(name, default)
    if not _is_absolute_http_url(value):
        raise TokenRequestError(
            f"metadata {url} has no usable {name} (an absolute http(s) URL): {value!r:.200}",
            reason=Reason.BAD_METADATA,
        )
    return value


def _is_absolute_http_url(value: object) -> TypeGuard[str]:
    if not isinstance(value, str):
        return False
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        return False
    return url.scheme in ("http", "https") and bool(url.host)
