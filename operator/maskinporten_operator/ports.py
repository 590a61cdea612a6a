"""The typed interfaces the reconcile core uses to reach the world outside it.

Adapters (:mod:`maskinporten_operator.adapters`) implement them for real; tests implement them
in memory. Nothing here imports kopf or the ``kubernetes`` package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from maskinporten_operator.oauth.authserver import ServerMetadata, TokenResponse


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
        """The Secret, or None when it does not exist. Raises :class:`KubeError`."""
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
    def token_request(self, *, seconds: float, reason: str | None) -> None:
        """Record one token request and its duration; ``reason`` is None on success."""
        ...
