"""The authorization server client against the real Maskinporten stand-in on a local port.

No HTTP mocking: every request goes over a socket to the stand-in running on the test's loop.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from joserfc.jwk import KeySet

from maskinporten_operator.credentials.keys import ClientKey, generate_client_key
from maskinporten_operator.oauth.authserver import AuthorizationServerClient
from maskinporten_operator.oauth.grant import GrantClaims, sign_grant
from maskinporten_operator.oauth.server_model import TokenRequestError, TokenResponse
from maskinporten_testbed.standin import Client, FrozenClock, MaskinportenStandin, RegisteredKey
from tests.helpers import decode_jwt

CLIENT_ID = "billing-client"
ORG = "123456789"
SCOPE = "test:read"
LIFETIME = 120
"""The tokens' lifetime: Maskinporten's default, which the stand-in issues unless told."""


@pytest.fixture
def clock() -> FrozenClock:
    """The stand-in's time, standing still: grants are checked at the instant they are made."""
    return FrozenClock(int(time.time()))


@pytest.fixture
async def standin(client_key: ClientKey, clock: FrozenClock) -> AsyncIterator[MaskinportenStandin]:
    async with MaskinportenStandin(clock=clock) as server:
        server.register_client(
            Client(
                client_id=CLIENT_ID,
                org=ORG,
                scopes=frozenset({SCOPE}),
                keys=(RegisteredKey(client_key.public_jwk()),),
            )
        )
        yield server


@pytest.fixture
async def auth() -> AsyncIterator[AuthorizationServerClient]:
    client = AuthorizationServerClient(timeout_seconds=5.0)
    yield client
    await client.aclose()


def grant(standin: MaskinportenStandin, key: ClientKey, *scopes: str) -> str:
    claims = GrantClaims(client_id=CLIENT_ID, audience=standin.issuer, scopes=scopes or (SCOPE,))
    return sign_grant(claims, key, now=int(standin.clock.now()))


async def failure(
    auth: AuthorizationServerClient, standin: MaskinportenStandin, assertion: str
) -> TokenRequestError:
    with pytest.raises(TokenRequestError) as caught:
        await auth.request_token(standin.token_endpoint, assertion)
    error = caught.value
    assert assertion not in str(error)
    assert assertion.split(".")[2] not in str(error)
    return error


# --- metadata -----------------------------------------------------------------------------------


async def test_metadata_is_discovered_from_the_issuers_well_known_document(
    standin: MaskinportenStandin, auth: AuthorizationServerClient
) -> None:
    metadata = await auth.metadata(standin.issuer)

    assert metadata.issuer == standin.issuer
    assert metadata.token_endpoint == standin.token_endpoint
    assert metadata.jwks_uri == standin.jwks_uri
    assert metadata.well_known_url == standin.metadata_url


async def test_metadata_is_cached_so_a_second_discovery_needs_no_server(
    standin: MaskinportenStandin, auth: AuthorizationServerClient
) -> None:
    first = await auth.metadata(standin.issuer)
    await standin.refuse_connections()

    assert await auth.metadata(standin.issuer) == first


async def test_metadata_declaring_another_issuer_is_rejected_as_bad_metadata() -> None:
    async with MaskinportenStandin(issuer="http://maskinporten.other.example/") as server:
        client = AuthorizationServerClient(timeout_seconds=5.0)
        try:
            with pytest.raises(TokenRequestError) as caught:
                await client.metadata(server.base_url)
        finally:
            await client.aclose()

    assert caught.value.reason == "BadMetadata"
    assert "http://maskinporten.other.example/" in str(caught.value)


async def test_metadata_from_an_unreachable_issuer_is_server_unreachable(
    standin: MaskinportenStandin, auth: AuthorizationServerClient
) -> None:
    await standin.refuse_connections()

    with pytest.raises(TokenRequestError) as caught:
        await auth.metadata(standin.issuer)

    assert caught.value.reason == "ServerUnreachable"


# --- token requests that succeed ----------------------------------------------------------------


async def test_signed_grant_gets_a_token_with_its_lifetime(
    standin: MaskinportenStandin, auth: AuthorizationServerClient, client_key: ClientKey
) -> None:
    response = await auth.request_token(standin.token_endpoint, grant(standin, client_key))

    assert response.expires_in == LIFETIME


async def test_issued_token_verifies_against_the_servers_published_keys(
    standin: MaskinportenStandin, auth: AuthorizationServerClient, client_key: ClientKey
) -> None:
    response = await auth.request_token(standin.token_endpoint, grant(standin, client_key))
    async with httpx.AsyncClient() as http:
        keys = KeySet.import_key_set((await http.get(standin.jwks_uri)).json())

    claims = decode_jwt(response.access_token, keys).claims

    assert claims["client_id"] == CLIENT_ID
    assert claims["scope"] == SCOPE


async def test_token_response_repr_does_not_contain_the_token(
    standin: MaskinportenStandin, auth: AuthorizationServerClient, client_key: ClientKey
) -> None:
    response = await auth.request_token(standin.token_endpoint, grant(standin, client_key))

    assert response.access_token not in repr(response)


async def test_token_response_keeps_the_whole_answer(
    standin: MaskinportenStandin, auth: AuthorizationServerClient, client_key: ClientKey
) -> None:
    response = await auth.request_token(standin.token_endpoint, grant(standin, client_key))

    assert response.document == {
        "access_token": response.access_token,
        "token_type": "Bearer",
        "expires_in": LIFETIME,
        "scope": SCOPE,
    }


async def test_token_request_reaches_the_server_once(
    standin: MaskinportenStandin, auth: AuthorizationServerClient, client_key: ClientKey
) -> None:
    await auth.request_token(standin.token_endpoint, grant(standin, client_key))

    assert [(r.client_id, r.status) for r in standin.requests()] == [(CLIENT_ID, 200)]


# --- token requests the server refuses ----------------------------------------------------------


async def test_rejected_grant_surfaces_error_and_verbatim_description(
    standin: MaskinportenStandin, auth: AuthorizationServerClient, client_key: ClientKey
) -> None:
    impostor = replace(generate_client_key(), kid=client_key.kid)

    error = await failure(auth, standin, grant(standin, impostor))

    assert error.reason == "TokenRequestRejected"
    assert "HTTP 400" in str(error)
    assert (
        "invalid_grant: MP-124: Invalid assertion. Client authentication failed. "
        "Invalid signature" in str(error)
    )


async def test_rejection_keeps_the_servers_error_and_description_apart(
    standin: MaskinportenStandin, auth: AuthorizationServerClient, client_key: ClientKey
) -> None:
    error = await failure(auth, standin, grant(standin, client_key, "test:write"))

    assert error.error == "invalid_scope"
    assert error.description == "MP-201: Invalid scopes for client: test:write"


async def test_reused_grant_is_a_rejection(
    standin: MaskinportenStandin, auth: AuthorizationServerClient, client_key: ClientKey
) -> None:
    assertion = grant(standin, client_key)
    await auth.request_token(standin.token_endpoint, assertion)

    error = await failure(auth, standin, assertion)

    assert error.reason == "TokenRequestRejected"
    assert "invalid_grant: MP-012: Invalid assertion. Client authentication failed. " in str(error)


async def test_scope_the_client_may_not_use_surfaces_the_servers_description(
    standin: MaskinportenStandin, auth: AuthorizationServerClient, client_key: ClientKey
) -> None:
    error = await failure(auth, standin, grant(standin, client_key, "test:write"))

    assert error.reason == "TokenRequestRejected"
    assert "invalid_scope: MP-20" in str(error)
    assert "test:write" in str(error)


async def test_error_without_description_surfaces_the_error_code(
    standin: MaskinportenStandin, auth: AuthorizationServerClient, client_key: ClientKey
) -> None:
    standin.fail_next(1, status=400, body=json.dumps({"error": "invalid_client"}))

    error = await failure(auth, standin, grant(standin, client_key))

    assert str(error).endswith("(HTTP 400) invalid_client")
    assert error.reason == "TokenRequestRejected"


# --- server trouble -----------------------------------------------------------------------------


async def test_503_without_an_oauth_error_is_a_server_error(
    standin: MaskinportenStandin, auth: AuthorizationServerClient, client_key: ClientKey
) -> None:
    standin.fail_next(
        1, status=503, body="<html>Service Unavailable</html>", content_type="text/html"
    )

    error = await failure(auth, standin, grant(standin, client_key))

    assert error.reason == "ServerError"
    assert "HTTP 503" in str(error)
    assert "<html>" not in str(error)


async def test_503_with_an_oauth_error_is_a_server_error_that_keeps_the_description(
    standin: MaskinportenStandin, auth: AuthorizationServerClient, client_key: ClientKey
) -> None:
    standin.fail_next(1, status=503)

    error = await failure(auth, standin, grant(standin, client_key))

    assert error.reason == "ServerError"
    assert "(HTTP 503) server_error: Injected fault" in str(error)


async def test_429_is_a_server_error_not_a_rejection(
    standin: MaskinportenStandin, auth: AuthorizationServerClient, client_key: ClientKey
) -> None:
    standin.fail_next(1, status=429, body=json.dumps({"error": "slow_down"}))

    error = await failure(auth, standin, grant(standin, client_key))

    assert error.reason == "ServerError"


async def test_refused_connection_is_server_unreachable(
    standin: MaskinportenStandin, auth: AuthorizationServerClient, client_key: ClientKey
) -> None:
    assertion = grant(standin, client_key)
    await standin.refuse_connections()

    error = await failure(auth, standin, assertion)

    assert error.reason == "ServerUnreachable"
    assert standin.token_endpoint in str(error)


async def test_answer_slower_than_the_timeout_is_server_unreachable(
    standin: MaskinportenStandin, clock: FrozenClock, client_key: ClientKey
) -> None:
    standin.set_latency(1)
    impatient = AuthorizationServerClient(timeout_seconds=0.2)
    try:
        error = await failure(impatient, standin, grant(standin, client_key))
    finally:
        await impatient.aclose()
        clock.advance(1)

    assert error.reason == "ServerUnreachable"
    assert "timed out" in str(error)


# --- answers that are not a usable token --------------------------------------------------------


async def test_200_without_access_token_is_a_bad_response(
    standin: MaskinportenStandin, auth: AuthorizationServerClient, client_key: ClientKey
) -> None:
    standin.fail_next(1, status=200, body=json.dumps({"token_type": "Bearer", "expires_in": 600}))

    error = await failure(auth, standin, grant(standin, client_key))

    assert error.reason == "BadResponse"
    assert "without an access_token" in str(error)


async def test_200_with_a_body_that_is_not_json_is_a_bad_response(
    standin: MaskinportenStandin, auth: AuthorizationServerClient, client_key: ClientKey
) -> None:
    standin.fail_next(1, status=200, body="<html>captive portal</html>", content_type="text/html")

    error = await failure(auth, standin, grant(standin, client_key))

    assert error.reason == "BadResponse"
    assert "not a JSON object" in str(error)


@pytest.mark.parametrize("expires_in", [None, 0, -5, "600", 600.5, True])
async def test_200_without_a_positive_integer_expires_in_is_a_bad_response(
    standin: MaskinportenStandin,
    auth: AuthorizationServerClient,
    client_key: ClientKey,
    expires_in: object,
) -> None:
    body: dict[str, object] = {"access_token": "eyJ.not-checked.here", "token_type": "Bearer"}
    if expires_in is not None:
        body["expires_in"] = expires_in
    standin.fail_next(1, status=200, body=json.dumps(body))

    error = await failure(auth, standin, grant(standin, client_key))

    assert error.reason == "BadResponse"
    assert "eyJ.not-checked.here" not in str(error)


async def test_successful_answer_without_scope_or_token_type_is_a_token(
    standin: MaskinportenStandin, auth: AuthorizationServerClient, client_key: ClientKey
) -> None:
    standin.fail_next(1, status=200, body=json.dumps({"access_token": "opaque", "expires_in": 120}))

    response = await auth.request_token(standin.token_endpoint, grant(standin, client_key))

    assert response == TokenResponse(access_token="opaque", expires_in=120)
