"""Digdir's self-service API: the organisation's Maskinporten clients, their keys, and the
scopes it may put on them, managed with the organisation's admin client.

Source: ``docs/maskinporten-facts.md`` section "Self-service API" (Digdir's documentation of
the self-service API and of client registration; digdirator's source):

- ``GET /clients`` (all of the organisation's), ``POST /clients`` (the answer is the whole
  registered model, with the new ``client_id``), ``GET | PUT | DELETE /clients/{client_id}``;
- ``GET | POST /clients/{client_id}/jwks``: POST replaces the whole set (at most 5 keys, RSA
  2048 with RS256); each key answered carries its ``exp``, one year after it was posted;
- ``GET /scopes/access/all?accessible_for_all=true``: the scopes the organisation may use.

Every request carries ``Authorization: Bearer <admin token>``: a Maskinporten token for the
admin client's grant, signed with its business certificate (``x5c``) or with the key registered
on it (``kid``, as Altinn runs its admin clients), with ``idporten:dcr.read``,
``idporten:dcr.write`` and ``idporten:dcr.modify``, from :class:`AdminTokenProvider`, which
shares one token among all callers and requests a new one on a 401. The admin credential is
read from its Secret (:class:`AdminCredentialSecret`) for each admin token request, so that an
administrator's fix (a Secret created or changed) is picked up without a restart.

Every failure is a :class:`~maskinporten_operator.ports.SelfServiceError` (see
:mod:`maskinporten_operator.ports`): :class:`SelfServiceRejected` when the API (or the token
endpoint, for the admin token) refused the request (HTTP 4xx but 429), with the API's own
``error`` and ``error_description``; :class:`SelfServiceUnavailable` for 5xx, 429,
unreachable servers, timeouts and answers that cannot be read. No error carries a token, a
grant or key material.

httpx, async, with bounded timeouts and the proxy taken from the environment (``HTTPS_PROXY``,
``NO_PROXY``). Writes (every method but ``GET``) go through the leader election's
:class:`~maskinporten_operator.adapters.kube.WriteFence` when one is set, as the Kubernetes
writes do: each is sent only if this replica leads when it is about to go, and is given up
after the fence's timeout (the election's write margin), so that none lands after another
replica may lead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from maskinporten_operator.adapters.kube import WriteFence
from maskinporten_operator.api import KeyMode, KeySpec
from maskinporten_operator.credentials.keys import ClientKey, InvalidKeyError
from maskinporten_operator.credentials.secret_data import (
    JWK_DATA_KEYS,
    raw_data,
    read_key,
    trimmed_password,
)
from maskinporten_operator.oauth.authserver import ca_bundle_ssl_context
from maskinporten_operator.oauth.failures import copy_for_waiter, failure_summary, is_rejection
from maskinporten_operator.oauth.grant import GrantClaims, sign_grant
from maskinporten_operator.oauth.server_model import TokenRequestError, bounded
from maskinporten_operator.ports import (
    AuthorizationServer,
    ClientRegistration,
    JwksEntry,
    KubeError,
    KubernetesApi,
    RegisteredClient,
    RegisteredJwks,
    ScopeAccess,
    SelfServiceError,
    SelfServiceRejected,
    SelfServiceUnavailable,
)
from maskinporten_operator.reasons import Reason
from maskinporten_operator.settings import Environment

logger = logging.getLogger(__name__)

TEST_BASE_URL = "https://api.test.samarbeid.digdir.no/api/v1/"
PROD_BASE_URL = "https://api.samarbeid.digdir.no/api/v1/"
BASE_URLS: Mapping[Environment, str] = {
    Environment.TEST: TEST_BASE_URL,
    Environment.PROD: PROD_BASE_URL,
}
"""The self-service API of each Maskinporten environment (``custom`` has none)."""
ADMIN_SCOPES = ("idporten:dcr.read", "idporten:dcr.write", "idporten:dcr.modify")
REFRESH_MARGIN_SECONDS = 60.0
"""An admin token is replaced this long before it expires (at most half its lifetime)."""
FAILURE_HOLD_SECONDS = 10.0
"""After a failed admin token request, callers get the same error this long without a new
request: a broken admin credential costs one request per hold, not one per resource."""
DEFAULT_TIMEOUT_SECONDS = 30.0


def base_url(environment: Environment) -> str | None:
    """The self-service API base URL for ``environment``; None for ``custom``."""
    return BASE_URLS.get(environment)


ADMIN_CLIENT_ID_DATA_KEY = "clientId"
ADMIN_PASSWORD_DATA_KEY = "password"  # noqa: S105 - the data key's name, not a password
CERTIFICATE_KEY_SPEC = KeySpec(mode=KeyMode.CERTIFICATE)
JWK_KEY_SPEC = KeySpec()
ADMIN_KEY_LAYOUTS = (
    "a business certificate ('keystore.p12' and 'password', or 'tls.key' and 'tls.crt'), or "
    "'jwk': the private JWK registered on the admin client, with its kid"
)


@dataclass(frozen=True)
class AdminCredential:
    """The admin client's id and key: a business certificate (the key with its chain, sent as
    ``x5c``) or a private JWK registered on the admin client (sent as ``kid``)."""

    client_id: str
    key: ClientKey = field(repr=False)


def admin_credential(data: Mapping[str, bytes], *, source: str, now: datetime) -> AdminCredential:
    """The admin client's id and key from its Secret's data: ``clientId``, and a business
    certificate (``keystore.p12`` with ``password``, or ``tls.key`` with ``tls.crt``) or a
    private JWK (``jwk``, its ``kid`` the one registered on the admin client; or a ``kid`` data
    key). A JWK wins when both are there. Raises InvalidKeyError saying what is missing; never
    includes key material."""
    client_id = data.get(ADMIN_CLIENT_ID_DATA_KEY, b"").decode(errors="replace").strip()
    if not client_id:
        raise InvalidKeyError(
            f"{source} has no '{ADMIN_CLIENT_ID_DATA_KEY}': add the admin client's client id"
        )
    password = data.get(ADMIN_PASSWORD_DATA_KEY)
    jwk = any(name in data for name in JWK_DATA_KEYS)
    try:
        key = read_key(
            data,
            JWK_KEY_SPEC if jwk else CERTIFICATE_KEY_SPEC,
            source=source,
            password=None if password is None else trimmed_password(password),
            now=now,
        )
    except InvalidKeyError as error:
        if jwk:
            raise
        raise InvalidKeyError(
            f"{error}; an admin client with a registered key instead: put its private JWK "
            "under 'jwk'"
        ) from None
    return AdminCredential(client_id, key)


CREDENTIALS_SETTING = "MASKINPORTEN_OPERATOR_SELF_SERVICE_CREDENTIALS"


class AdminCredentialSecret:
    """The admin credential in the Secret ``namespace/name``, read on each call (the
    :class:`AdminTokenProvider` calls once per admin token request, and at most once per
    failure hold while it fails) and parsed again only when its ``resourceVersion`` changed.

    Raises :class:`SelfServiceRejected` with reason ``SelfServiceNotConfigured`` when the
    Secret is missing or holds no usable credential (the message says what an administrator
    puts in it), and :class:`SelfServiceUnavailable` with reason ``KubernetesApiError`` when it
    could not be read. A change of that state is logged once, not on every call.
    """

    def __init__(
        self, kube: KubernetesApi, reference: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._kube = kube
        self._namespace, self._name = reference.split("/", 1)
        self._source = f"self-service admin credential Secret {reference} ({CREDENTIALS_SETTING})"
        self._clock = clock
        self._parsed: tuple[str, AdminCredential] | None = None
        self._problem: str | None = None

    async def __call__(self) -> AdminCredential:
        try:
            credential = await self._read()
        except SelfServiceError as error:
            if str(error) != self._problem:
                logger.error("%s", error)
            self._problem = str(error)
            raise
        if self._problem is not None:
            logger.info("managed clients: %s is read and used", self._source)
        self._problem = None
        return credential

    async def _read(self) -> AdminCredential:
        try:
            secret = await self._kube.get_secret(self._namespace, self._name)
        except KubeError as error:
            raise SelfServiceUnavailable(
                f"managed clients cannot be registered now: reading the {self._source} "
                f"failed ({error}); it is read again with back-off",
                reason=Reason.KUBERNETES_API_ERROR,
            ) from None
        if secret is None:
            raise self._not_configured(
                f"the {self._source} does not exist: an administrator creates it in the "
                f"operator's namespace with the admin client's '{ADMIN_CLIENT_ID_DATA_KEY}' and "
                f"{ADMIN_KEY_LAYOUTS} (see the README, 'Managed clients')"
            )
        version = str(secret.get("metadata", {}).get("resourceVersion", ""))
        if self._parsed is not None and version and self._parsed[0] == version:
            return self._parsed[1]
        now = datetime.fromtimestamp(self._clock(), UTC)
        try:
            credential = await asyncio.to_thread(
                admin_credential, raw_data(secret), source=self._source, now=now
            )
        except InvalidKeyError as error:
            raise self._not_configured(str(error)) from None
        self._parsed = (version, credential)
        return credential

    def _not_configured(self, problem: str) -> SelfServiceRejected:
        return SelfServiceRejected(
            f"managed clients cannot be registered: {problem}; the operator "
            "reads it again by itself (no restart needed)",
            reason=Reason.SELF_SERVICE_NOT_CONFIGURED,
        )


@dataclass(frozen=True)
class _Cached:
    token: str = field(repr=False)
    refresh_at: float


class AdminTokenProvider:
    """The admin client's access token, shared by every caller.

    Requests it with a JWT grant signed with the key of ``credential`` (read anew for each
    request, e.g. :class:`AdminCredentialSecret`; the grant carries ``x5c`` for a business
    certificate, ``kid`` for a registered JWK) for
    its client id and :data:`ADMIN_SCOPES`, at the token endpoint of ``issuer`` (discovered
    through ``auth``); caches it until :data:`REFRESH_MARGIN_SECONDS` (at most half its
    lifetime) before it expires. Concurrent callers share one request; after a failure (of the
    credential too) the same error is raised for ``failure_hold_seconds``. ``clock`` gives
    epoch seconds (grant ``iat`` and expiry). Raises :class:`SelfServiceRejected` /
    :class:`SelfServiceUnavailable` with reason ``AdminTokenRejected`` /
    ``AdminTokenUnavailable``, or the credential's own error.
    """

    def __init__(
        self,
        auth: AuthorizationServer,
        *,
        credential: Callable[[], Awaitable[AdminCredential]],
        issuer: str,
        clock: Callable[[], float] = time.time,
        refresh_margin_seconds: float = REFRESH_MARGIN_SECONDS,
        failure_hold_seconds: float = FAILURE_HOLD_SECONDS,
    ) -> None:
        self._auth = auth
        self._credential = credential
        self._issuer = issuer
        self._clock = clock
        self._margin = refresh_margin_seconds
        self._hold = failure_hold_seconds
        self._cached: _Cached | None = None
        self._failure: tuple[float, SelfServiceError] | None = None
        self._inflight: asyncio.Future[str] | None = None

    async def token(self) -> str:
        """A valid admin access token (raises SelfServiceError)."""
        now = self._clock()
        if self._cached is not None and now < self._cached.refresh_at:
            return self._cached.token
        if self._failure is not None and now < self._failure[0]:
            raise copy_for_waiter(self._failure[1])
        if self._inflight is None:
            inflight = asyncio.ensure_future(self._request())
            inflight.add_done_callback(self._settled)
            self._inflight = inflight
        try:
            return await asyncio.shield(self._inflight)
        except SelfServiceError as error:
            raise copy_for_waiter(error) from None

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (the API refused it); a newer one already cached is kept."""
        if self._cached is not None and self._cached.token == token:
            self._cached = None

    async def _request(self) -> str:
        try:
            credential = await self._credential()
        except SelfServiceError as error:
            self._failure = (self._clock() + self._hold, error)
            raise
        try:
            metadata = await self._auth.metadata(self._issuer)
            claims = GrantClaims(
                client_id=credential.client_id, audience=metadata.issuer, scopes=ADMIN_SCOPES
            )
            issued_at = self._clock()
            grant = sign_grant(claims, credential.key, now=int(issued_at))
            response = await self._auth.request_token(metadata.token_endpoint, grant)
        except TokenRequestError as error:
            failure = _admin_token_error(error)
            self._failure = (self._clock() + self._hold, failure)
            raise failure from None
        lifetime = float(response.expires_in)
        refresh_at = issued_at + lifetime - min(self._margin, lifetime / 2)
        self._cached = _Cached(response.access_token, refresh_at)
        self._failure = None
        return response.access_token

    def _settled(self, inflight: asyncio.Future[str]) -> None:
        self._inflight = None
        if not inflight.cancelled():
            inflight.exception()  # retrieved here even when every caller was cancelled


def _admin_token_error(error: TokenRequestError) -> SelfServiceError:
    rejected = error.reason is Reason.TOKEN_REQUEST_REJECTED
    kind = SelfServiceRejected if rejected else SelfServiceUnavailable
    return kind(
        f"self-service admin token: {error}",
        reason=Reason.ADMIN_TOKEN_REJECTED if rejected else Reason.ADMIN_TOKEN_UNAVAILABLE,
        error=error.error,
        description=error.description,
    )


class SelfServiceApi:
    """:class:`~maskinporten_operator.ports.SelfService`: the self-service API at ``base_url``
    (e.g. :data:`TEST_BASE_URL`), authorised by ``tokens``; writes through ``fence`` when one
    is set. Every method raises :class:`SelfServiceError` and nothing else: a write the fence
    holds back is :class:`SelfServiceUnavailable` (reason ``SelfServiceUnavailable``, "not
    sent: this replica is not the leader"), one it gives up on "timed out"."""

    def __init__(
        self,
        base_url: str,
        tokens: AdminTokenProvider,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        ca_bundle: str | None = None,
    ) -> None:
        """``ca_bundle``: a PEM file of CA certificates trusted besides the public ones, as for
        the authorization server (``MASKINPORTEN_OPERATOR_CA_BUNDLE``)."""
        self._base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._tokens = tokens
        self.fence: WriteFence | None = None
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds),
            verify=True if ca_bundle is None else ca_bundle_ssl_context(ca_bundle),
            trust_env=True,
            headers={"Accept": "application/json", "User-Agent": "maskinporten-operator"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def list_clients(self) -> list[RegisteredClient]:
        """Every client of the organisation, of every integration type."""
        document = await self._call("GET", "clients")
        if not isinstance(document, list):
            raise _bad_response("GET /clients", "not a JSON array")
        return [_client(item, "GET /clients") for item in document]

    async def get_client(self, client_id: str) -> RegisteredClient:
        """One client; :class:`SelfServiceRejected` with status 404 when there is none."""
        path = f"clients/{_segment(client_id)}"
        return _client(await self._call("GET", path), f"GET /{path}")

    async def create_client(self, registration: ClientRegistration) -> RegisteredClient:
        """Register a new client; the answer holds its ``client_id``."""
        return _client(
            await self._call("POST", "clients", body=registration.document()), "POST /clients"
        )

    async def update_client(
        self, client_id: str, registration: ClientRegistration
    ) -> RegisteredClient:
        """Replace the client's name, description and scopes (its keys stay)."""
        path = f"clients/{_segment(client_id)}"
        document = await self._call("PUT", path, body=registration.document())
        return _client(document, f"PUT /{path}")

    async def delete_client(self, client_id: str) -> None:
        await self._call("DELETE", f"clients/{_segment(client_id)}")

    async def get_jwks(self, client_id: str) -> RegisteredJwks:
        path = f"clients/{_segment(client_id)}/jwks"
        return _jwks(await self._call("GET", path), f"GET /{path}")

    async def replace_jwks(
        self, client_id: str, keys: Sequence[Mapping[str, Any]]
    ) -> RegisteredJwks:
        """Replace the client's whole key set with ``keys`` (public JWKs, at most 5); keys
        posted again are renewed for a year."""
        path = f"clients/{_segment(client_id)}/jwks"
        body = {"keys": [dict(key) for key in keys]}
        return _jwks(await self._call("POST", path, body=body), f"POST /{path}")

    async def accessible_scopes(self) -> list[ScopeAccess]:
        """The organisation's scope access, the scopes open to all included."""
        params = {"accessible_for_all": "true"}
        document = await self._call("GET", "scopes/access/all", params=params)
        if not isinstance(document, list):
            raise _bad_response("GET /scopes/access/all", "not a JSON array")
        return [_scope_access(item) for item in document]

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        params: Mapping[str, str] | None = None,
    ) -> object:
        """The parsed JSON answer (None for an empty one); one new admin token on a 401."""
        what = f"self-service API {method} /{path}"
        url = self._base_url + path
        for attempt in (1, 2):
            token = await self._tokens.token()
            request = self._http.build_request(
                method, url, json=body, params=params, headers={"Authorization": f"Bearer {token}"}
            )
            try:
                response = await self._send(request, what)
            except (httpx.TimeoutException, TimeoutError):
                raise SelfServiceUnavailable(
                    f"{what} timed out", reason=Reason.SELF_SERVICE_UNREACHABLE
                ) from None
            except httpx.HTTPError as error:
                raise SelfServiceUnavailable(
                    f"{what} failed: {type(error).__name__}: {_redact(str(error), token)}",
                    reason=Reason.SELF_SERVICE_UNREACHABLE,
                ) from None
            if response.status_code == 401 and attempt == 1:
                self._tokens.invalidate(token)
                continue
            if response.status_code >= 400:
                raise _error(response, what, token)
            break
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise _bad_response(f"{method} /{path}", "not JSON") from None

    async def _send(self, request: httpx.Request, what: str) -> httpx.Response:
        """``request``; a write only while the fence allows it just before it is sent, and
        given up (TimeoutError) after the fence's timeout."""
        fence = None if request.method == "GET" else self.fence
        if fence is None:
            return await self._http.send(request)
        if not fence.may_write():
            raise SelfServiceUnavailable(
                f"{what} not sent: this replica is not the leader (see leader election)",
                reason=Reason.SELF_SERVICE_UNAVAILABLE,
            )
        async with asyncio.timeout(fence.timeout_seconds):
            return await self._http.send(request)


def _segment(value: str) -> str:
    return quote(value, safe="")


def _redact(text: str, token: str) -> str:
    return text.replace(token, "[token]") if token else text


def _error(response: httpx.Response, what: str, token: str) -> SelfServiceError:
    """A rejection or the server's trouble, as :func:`is_rejection` tells them apart."""
    try:
        document = response.json()
    except ValueError:
        document = None
    error = description = None
    if isinstance(document, dict):
        code = document.get("error")
        error = bounded(_redact(code, token)) if isinstance(code, str) else None
        text = document.get("error_description", document.get("message"))
        description = bounded(_redact(text, token)) if isinstance(text, str) else None
    status = response.status_code
    rejected = is_rejection(status)
    kind = SelfServiceRejected if rejected else SelfServiceUnavailable
    reason = Reason.SELF_SERVICE_REJECTED if rejected else Reason.SELF_SERVICE_UNAVAILABLE
    summary = failure_summary(what, status, error, description)
    return kind(summary, reason=reason, status=status, error=error, description=description)


def _bad_response(what: str, detail: str) -> SelfServiceUnavailable:
    return SelfServiceUnavailable(
        f"self-service API {what} answered with a body that cannot be read ({detail})",
        reason=Reason.BAD_RESPONSE,
    )


def _strings(value: object) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def _client(document: object, what: str) -> RegisteredClient:
    if not isinstance(document, dict) or not isinstance(document.get("client_id"), str):
        raise _bad_response(what, "a client without client_id")
    scopes = _strings(document.get("scopes", []))
    if scopes is None:
        raise _bad_response(what, "scopes is not an array of strings")
    return RegisteredClient(
        client_id=document["client_id"],
        client_name=str(document.get("client_name") or ""),
        description=str(document.get("description") or ""),
        integration_type=str(document.get("integration_type") or ""),
        scopes=scopes,
        access_token_lifetime=_positive_int(document.get("access_token_lifetime")),
        document=document,
    )


def _positive_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _jwks(document: object, what: str) -> RegisteredJwks:
    if not isinstance(document, dict) or not isinstance(document.get("keys", []), list):
        raise _bad_response(what, "not a JWKS")
    entries = []
    for key in document.get("keys", []):
        if not isinstance(key, dict) or not isinstance(key.get("kid"), str):
            raise _bad_response(what, "a key without kid")
        exp = key.get("exp")
        expires = float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None
        public = {name: value for name, value in key.items() if name != "exp"}
        entries.append(JwksEntry(key["kid"], expires, public))
    return RegisteredJwks(tuple(entries))


def _scope_access(document: object) -> ScopeAccess:
    if not isinstance(document, dict) or not isinstance(document.get("scope"), str):
        raise _bad_response("GET /scopes/access/all", "an entry without scope")
    return ScopeAccess(scope=document["scope"], state=str(document.get("state", "")))
