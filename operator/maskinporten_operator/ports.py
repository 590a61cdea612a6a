"""The typed interfaces the reconcile core uses to reach the world outside it.

Adapters (:mod:`maskinporten_operator.adapters`) implement them for real; tests implement them
in memory. Nothing here imports kopf or the ``kubernetes`` package.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from maskinporten_operator.oauth.grant import GRANT_TYPE
from maskinporten_operator.oauth.server_model import ServerMetadata, TokenResponse
from maskinporten_operator.reasons import Reason


class KubeError(Exception):
    """A Kubernetes API call failed: ``"{action} {subject}: {detail}"``.

    ``subject`` names the object (``Secret team/weather``); ``status`` is the HTTP status (404,
    409, 422, ...), or 0 when the API server could not be reached at all; ``detail`` carries the
    API server's status message, never a request or response body.
    """

    def __init__(self, *, action: str, subject: str, status: int, detail: str) -> None:
        super().__init__(f"{action} {subject}: {detail}")
        self.subject = subject
        self.status = status
        self.detail = detail


class KubernetesApi(Protocol):
    """The few Kubernetes calls the operator makes; bodies are plain dicts in wire shape."""

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Secret with its data, or None when it does not exist. Raises
        :class:`KubeError`."""
        ...

    async def get_watched_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Secret if it carries :data:`~maskinporten_operator.api.CLIENT_LABEL` (the
        operator's own Secrets, and users' Secrets labelled for a MaskinportenClient), else
        None: a Secret without the label may still exist under that name (creating one is then
        HTTP 409). Served from the operator's Secret watch when it is complete, with no API
        request; then possibly without its data: the watch keeps a Secret's data only until it
        is read once (or not at all when the operator wrote it), and then holds its digest
        instead (:data:`~maskinporten_operator.reconcile.secret_bodies.DATA_DIGEST`), so that
        keys and tokens the operator holds in memory are not held twice. :meth:`get_secret`
        reads the data. Raises :class:`KubeError`."""
        ...

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create and return the Secret as stored; a Secret of that name already there is
        HTTP 409. Raises :class:`KubeError`."""
        ...

    async def replace_secret(
        self, namespace: str, body: dict[str, Any], resource_version: str
    ) -> dict[str, Any]:
        """Replace, only if still at ``resource_version`` (else 409), and return the Secret as
        stored. Raises :class:`KubeError`."""
        ...

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Merge-patch a MaskinportenClient's status subresource. Raises :class:`KubeError`."""
        ...


class Pods(Protocol):
    """The pods labelled for a MaskinportenClient (:data:`~maskinporten_operator.api.CLIENT_LABEL`
    on the pod), and the one change the operator makes to them: an annotation it owns."""

    async def labelled(self, namespace: str, client_name: str) -> tuple[str, ...]:
        """The names of the pods in ``namespace`` labelled for ``client_name``, as the operator's
        pod watch last saw them (no API request); empty before its first list arrives."""
        ...

    async def annotate(self, namespace: str, name: str, annotations: Mapping[str, str]) -> None:
        """Set ``annotations`` on the pod by a JSON merge patch of its metadata, nothing else,
        under the operator's field manager. Raises :class:`KubeError` (404: the pod is gone;
        403 or 422: refused by RBAC or an admission policy)."""
        ...


class AuthorizationServer(Protocol):
    """An OAuth 2.0 authorization server (Maskinporten, or another on the allowlist).

    Every method raises :class:`~maskinporten_operator.oauth.authserver.TokenRequestError`
    and nothing else.
    """

    async def metadata(self, issuer: str) -> ServerMetadata: ...

    async def request_token(self, token_endpoint: str, assertion: str) -> TokenResponse: ...

    async def request_client_credentials_token(
        self, token_endpoint: str, client_assertion: str, scopes: Sequence[str]
    ) -> TokenResponse: ...

    async def exchange_for_altinn(self, url: str, maskinporten_token: str) -> str: ...


class TokenRequestMetrics(Protocol):
    def token_request(
        self, *, seconds: float, reason: Reason | None, code: str | None = None
    ) -> None:
        """Record one token request and its duration; ``reason`` is None on success, ``code``
        the server's error code of a failure (``MP-121``), if it gave one."""
        ...


# --- Digdir's self-service API (managed clients) -----------------------------------------------

INTEGRATION_TYPE = "maskinporten"
APPLICATION_TYPE = "web"
AUTH_METHOD = "private_key_jwt"
APPROVED = "APPROVED"
MAX_KEYS = 5
"""A client's JWKS holds at most this many keys."""


class SelfServiceError(Exception):
    """A self-service API call failed; ``reason`` says how (see the subclasses).

    ``status`` is the HTTP status (0 when no answer came); ``error`` and ``description`` are the
    API's (or, for the admin token, Maskinporten's) ``error`` and ``error_description``.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: Reason,
        status: int = 0,
        error: str | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.error = error
        self.description = description


class SelfServiceRejected(SelfServiceError):
    """The request was refused (HTTP 4xx but 429): a person must change something.

    ``reason``: ``SelfServiceRejected``, ``AdminTokenRejected`` when Maskinporten refused the
    admin token, or ``SelfServiceNotConfigured`` when the admin credential is missing or
    unusable. ``status`` 404 means the client does not exist in the organisation.
    """


class SelfServiceUnavailable(SelfServiceError):
    """No usable answer: HTTP 5xx or 429 (``SelfServiceUnavailable``), no connection or a timeout
    (``SelfServiceUnreachable``), an answer that cannot be read (``BadResponse``), or the same
    for the admin token (``AdminTokenUnavailable``), or the admin credential's Secret could not
    be read (``KubernetesApiError``). Retrying later may help."""


@dataclass(frozen=True)
class ClientRegistration:
    """What the operator registers: a Maskinporten consumer client (``integration_type``,
    ``application_type``, ``token_endpoint_auth_method`` and ``grant_types`` are fixed).

    ``description`` identifies the resource uniquely, so that the client is found again;
    ``access_token_lifetime`` (seconds) is left out when None.
    """

    client_name: str
    description: str
    scopes: tuple[str, ...]
    access_token_lifetime: int | None = None

    def document(self) -> dict[str, Any]:
        """The JSON body of ``POST /clients`` and ``PUT /clients/{client_id}``."""
        document: dict[str, Any] = {
            "integration_type": INTEGRATION_TYPE,
            "application_type": APPLICATION_TYPE,
            "client_name": self.client_name,
            "description": self.description,
            "scopes": list(self.scopes),
            "token_endpoint_auth_method": AUTH_METHOD,
            "grant_types": [GRANT_TYPE],
        }
        if self.access_token_lifetime is not None:
            document["access_token_lifetime"] = self.access_token_lifetime
        return document


@dataclass(frozen=True)
class RegisteredClient:
    """A client as the API answers it; ``access_token_lifetime`` None when not shown."""

    client_id: str
    client_name: str
    description: str
    integration_type: str
    scopes: tuple[str, ...]
    access_token_lifetime: int | None = None
    document: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The whole JSON answer."""


@dataclass(frozen=True)
class JwksEntry:
    """A registered key: ``expires_at`` is its ``exp`` (epoch seconds), None when not given;
    ``jwk`` its public members without ``exp`` (what to post again to keep or renew it)."""

    kid: str
    expires_at: float | None
    jwk: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class RegisteredJwks:
    """A client's key set."""

    keys: tuple[JwksEntry, ...]

    def key(self, kid: str) -> JwksEntry | None:
        return next((key for key in self.keys if key.kid == kid), None)


@dataclass(frozen=True)
class ScopeAccess:
    """The organisation's access to a scope: ``state`` ``APPROVED`` (usable), ``REQUESTED`` or
    ``DENIED``."""

    scope: str
    state: str

    @property
    def accessible(self) -> bool:
        return self.state == APPROVED


def inaccessible_scopes(wanted: Iterable[str], access: Iterable[ScopeAccess]) -> list[str]:
    """The ``wanted`` scopes the organisation may not put on a client, in the order given."""
    usable = {entry.scope for entry in access if entry.accessible}
    return [scope for scope in dict.fromkeys(wanted) if scope not in usable]


class SelfService(Protocol):
    """Digdir's self-service API, authorised by the organisation's admin client. Every method
    raises :class:`SelfServiceError` and nothing else."""

    async def list_clients(self) -> list[RegisteredClient]:
        """Every client of the organisation, of every integration type."""
        ...

    async def get_client(self, client_id: str) -> RegisteredClient:
        """One client; :class:`SelfServiceRejected` with status 404 when there is none."""
        ...

    async def create_client(self, registration: ClientRegistration) -> RegisteredClient: ...

    async def update_client(
        self, client_id: str, registration: ClientRegistration
    ) -> RegisteredClient: ...

    async def delete_client(self, client_id: str) -> None: ...

    async def get_jwks(self, client_id: str) -> RegisteredJwks: ...

    async def replace_jwks(
        self, client_id: str, keys: Sequence[Mapping[str, Any]]
    ) -> RegisteredJwks:
        """Replace the whole key set (at most :data:`MAX_KEYS` public JWKs)."""
        ...

    async def accessible_scopes(self) -> list[ScopeAccess]:
        """The organisation's access to scopes, the public ones (open to all) included."""
        ...
