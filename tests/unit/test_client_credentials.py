"""Generic OAuth 2.0 client credentials with ``private_key_jwt`` (RFC 7523 section 2.2).

A small token endpoint on a local port records what arrives; the interop test against an
authorization server nobody on this project wrote is in ``tests/cli``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from maskinporten_operator.credentials.keys import ClientKey
from maskinporten_operator.oauth.authserver import AuthorizationServerClient
from maskinporten_operator.oauth.grant import sign_client_assertion

CLIENT_ID = "my-service"
ISSUER = "https://idp.example/"


class Recorder:
    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []

    async def token(self, request: web.Request) -> web.Response:
        self.forms.append({k: str(v) for k, v in (await request.post()).items()})
        return web.json_response({"access_token": "t", "token_type": "Bearer", "expires_in": 60})


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[Recorder, str]]:
    recorder = Recorder()
    app = web.Application()
    app.router.add_post("/token", recorder.token)
    async with TestServer(app, host="127.0.0.1") as server:
        yield recorder, str(server.make_url("/token"))


async def request(endpoint: str, key: ClientKey, scopes: tuple[str, ...]) -> str:
    assertion = sign_client_assertion(CLIENT_ID, ISSUER, key, now=1_800_000_000)
    auth = AuthorizationServerClient(timeout_seconds=5.0)
    try:
        await auth.request_client_credentials_token(endpoint, assertion, scopes)
    finally:
        await auth.aclose()
    return assertion


async def test_form_has_grant_type_assertion_type_assertion_and_scope(
    recorder: tuple[Recorder, str], client_key: ClientKey
) -> None:
    server, endpoint = recorder

    assertion = await request(endpoint, client_key, ("api.read", "api.write"))

    assert server.forms == [
        {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": "api.read api.write",
        }
    ]


async def test_form_without_scopes_leaves_scope_out(
    recorder: tuple[Recorder, str], client_key: ClientKey
) -> None:
    server, endpoint = recorder

    await request(endpoint, client_key, ())

    assert "scope" not in server.forms[0]
