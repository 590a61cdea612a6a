"""Hand-built requests for the self-service stand-in tests: httpx, joserfc and the test CA only,
no operator code (the operator's own client is tested in tests/unit)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

from maskinporten_testbed.selfservice import ADMIN_SCOPES, AdminClient, SelfServiceStandin
from maskinporten_testbed.standin import MaskinportenStandin

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ORG = "123456789"
OTHER_ORG = "987654321"
SCOPE = "test:read"
OTHER_SCOPE = "test:write"
PUBLIC_SCOPE = "open:data"
REQUESTED_SCOPE = "test:pending"
UNKNOWN_SCOPE = "nobody:has.this"
YEAR = 365 * 24 * 3600


def client_model(**overrides: Any) -> dict[str, Any]:
    """The documented Maskinporten consumer client model, with ``overrides``."""
    model: dict[str, Any] = {
        "integration_type": "maskinporten",
        "application_type": "web",
        "client_name": "weather",
        "description": "cluster-a:team:weather",
        "scopes": [SCOPE],
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": [GRANT_TYPE],
    }
    model.update(overrides)
    return model


def public_jwk(key: RSAKey, kid: str, **overrides: Any) -> dict[str, Any]:
    """``key``'s public half under ``kid`` (one key pair may serve under several kids)."""
    jwk: dict[str, Any] = {**key.as_dict(private=False), "kid": kid, "alg": "RS256", "use": "sig"}
    jwk.update(overrides)
    return jwk


def x5c_grant(
    standin: MaskinportenStandin, admin: AdminClient, scopes: Iterable[str], **extra: Any
) -> str:
    now = int(standin.clock.now())
    claims = {
        **extra,
        "aud": standin.issuer,
        "iss": admin.client_id,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    key = RSAKey.import_key(admin.certificate.private_key_pem())
    return jwt.encode({"alg": "RS256", "x5c": admin.certificate.x5c()}, claims, key)


def kid_grant(
    standin: MaskinportenStandin, client_id: str, key: RSAKey, kid: str, scope: str = SCOPE
) -> str:
    now = int(standin.clock.now())
    claims = {
        "aud": standin.issuer,
        "iss": client_id,
        "scope": scope,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode({"alg": "RS256", "kid": kid}, claims, key)


async def request_token(
    http: httpx.AsyncClient, standin: MaskinportenStandin, grant: str
) -> httpx.Response:
    return await http.post(
        standin.token_endpoint, data={"grant_type": GRANT_TYPE, "assertion": grant}
    )


async def admin_token(
    http: httpx.AsyncClient,
    standin: MaskinportenStandin,
    admin: AdminClient,
    scopes: Iterable[str] = ADMIN_SCOPES,
) -> str:
    response = await request_token(http, standin, x5c_grant(standin, admin, scopes))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@dataclass
class Api:
    """The self-service API as one organisation's admin sees it (``token`` may be swapped)."""

    http: httpx.AsyncClient
    server: SelfServiceStandin
    admin: AdminClient
    token: str | None = None

    async def log_in(self) -> Api:
        """A fresh admin token with every ``idporten:dcr.*`` scope (after moving the clock)."""
        self.token = await admin_token(self.http, self.server.maskinporten, self.admin)
        return self

    async def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        return await self.http.request(
            method, self.server.base_url + path, json=body, headers=headers, **kwargs
        )

    async def create(self, **overrides: Any) -> dict[str, Any]:
        response = await self.call("POST", "clients", client_model(**overrides))
        assert response.status_code == 201, response.text
        document: dict[str, Any] = response.json()
        return document

    async def post_keys(self, client_id: str, *keys: dict[str, Any]) -> httpx.Response:
        return await self.call("POST", f"clients/{client_id}/jwks", {"keys": list(keys)})


def assert_refused(response: httpx.Response, status: int, error: str, *words: str) -> None:
    """The API's error shape, with every one of ``words`` in the description."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error, body
    for word in words:
        assert word in body["error_description"], body
