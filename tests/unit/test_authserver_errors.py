"""Whatever goes wrong between the client and the authorization server comes out as one exception
type, ``TokenRequestError``, with a reason, and never repeats a grant or a token.

The server is an ``httpx.MockTransport`` that answers or raises as each test says; a few tests
use a real socket (the stand-in, or no server at all) where only the real network stack fails.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from maskinporten_operator.oauth.authserver import AuthorizationServerClient
from maskinporten_operator.oauth.server_model import TokenRequestError
from maskinporten_testbed.standin import MaskinportenStandin

ISSUER = "https://idp.example.net/"
TOKEN_ENDPOINT = ISSUER + "token"
GRANT = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJzZWNyZXQtZ3JhbnQifQ.c2lnbmF0dXJl"

Handler = Callable[[httpx.Request], httpx.Response]


def metadata_document(**fields: object) -> dict[str, object]:
    return {
        "issuer": ISSUER,
        "token_endpoint": TOKEN_ENDPOINT,
        "jwks_uri": ISSUER + "jwk",
        **fields,
    }


def answering(status: int, body: str, content_type: str = "application/json") -> Handler:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=body, headers={"Content-Type": content_type})

    return handler


def raising(error: BaseException) -> Handler:
    def handler(_: httpx.Request) -> httpx.Response:
        raise error

    return handler


async def metadata_failure(handler: Handler, issuer: str = ISSUER) -> TokenRequestError:
    client = AuthorizationServerClient(timeout_seconds=5, transport=httpx.MockTransport(handler))
    try:
        with pytest.raises(TokenRequestError) as caught:
            await client.metadata(issuer)
    finally:
        await client.aclose()
    return caught.value


async def token_failure(handler: Handler) -> TokenRequestError:
    client = AuthorizationServerClient(timeout_seconds=5, transport=httpx.MockTransport(handler))
    try:
        with pytest.raises(TokenRequestError) as caught:
            await client.request_token(TOKEN_ENDPOINT, GRANT)
    finally:
        await client.aclose()
    assert GRANT not in str(caught.value)
    return caught.value


# --- metadata documents that cannot be used -----------------------------------------------------


async def test_metadata_200_that_is_not_json_is_bad_metadata() -> None:
    error = await metadata_failure(answering(200, "<html>captive portal</html>", "text/html"))

    assert error.reason == "BadMetadata"
    assert "not a JSON object" in str(error)


async def test_metadata_200_that_is_a_json_array_is_bad_metadata() -> None:
    error = await metadata_failure(answering(200, json.dumps([metadata_document()])))

    assert error.reason == "BadMetadata"


async def test_metadata_nested_too_deeply_to_decode_is_bad_metadata() -> None:
    error = await metadata_failure(answering(200, "[" * 100_000))

    assert error.reason == "BadMetadata"


async def test_metadata_url_answering_404_is_bad_metadata_not_a_rejected_token_request() -> None:
    error = await metadata_failure(answering(404, "not found", "text/plain"))

    assert error.reason == "BadMetadata"
    assert "HTTP 404" in str(error)


async def test_metadata_url_answering_503_is_a_server_error() -> None:
    error = await metadata_failure(answering(503, "busy", "text/plain"))

    assert error.reason == "ServerError"


@pytest.mark.parametrize("field", ["token_endpoint", "jwks_uri"])
@pytest.mark.parametrize("value", ["/token", "ftp://idp.example.net/token", "https://", 42])
async def test_metadata_endpoint_that_is_not_an_absolute_http_url_is_bad_metadata(
    field: str, value: object
) -> None:
    document = metadata_document(**{field: value})

    error = await metadata_failure(answering(200, json.dumps(document)))

    assert error.reason == "BadMetadata"
    assert field in str(error)


# --- issuer URLs the HTTP client cannot use ----------------------------------------------------


async def test_metadata_of_an_issuer_url_the_http_client_cannot_parse_is_server_unreachable() -> (
    None
):
    error = await metadata_failure(answering(200, "{}"), issuer="http://[::1/")

    assert error.reason == "ServerUnreachable"
    assert "http://[::1/" in str(error)


async def test_metadata_of_an_issuer_whose_port_is_out_of_range_is_server_unreachable() -> None:
    client = AuthorizationServerClient(timeout_seconds=5)
    try:
        with pytest.raises(TokenRequestError) as caught:
            await client.metadata("http://127.0.0.1:99999/")
    finally:
        await client.aclose()

    assert caught.value.reason == "ServerUnreachable"


# --- everything the transport can raise ---------------------------------------------------------

TRANSPORT_ERRORS: list[tuple[BaseException, str]] = [
    (httpx.ConnectError("All connection attempts failed"), "ServerUnreachable"),
    (httpx.ReadError("connection reset by peer"), "ServerUnreachable"),
    (httpx.WriteError("broken pipe"), "ServerUnreachable"),
    (httpx.RemoteProtocolError("server disconnected"), "ServerUnreachable"),
    (httpx.ProxyError("407 Proxy Authentication Required"), "ServerUnreachable"),
    (httpx.ConnectTimeout("timed out"), "ServerUnreachable"),
    (httpx.ReadTimeout("timed out"), "ServerUnreachable"),
    (httpx.PoolTimeout("timed out"), "ServerUnreachable"),
    (httpx.UnsupportedProtocol("unsupported protocol"), "ServerUnreachable"),
    (httpx.InvalidURL("Invalid port"), "ServerUnreachable"),
    (httpx.StreamConsumed(), "ServerUnreachable"),
    (ssl.SSLCertVerificationError("certificate verify failed"), "ServerUnreachable"),
    (ConnectionResetError(104, "Connection reset by peer"), "ServerUnreachable"),
    (
        ExceptionGroup("unhandled errors in a TaskGroup", [OverflowError("port out of range")]),
        "ServerUnreachable",
    ),
    (httpx.DecodingError("incorrect header check"), "BadResponse"),
]
ERROR_IDS = [type(error).__name__ for error, _ in TRANSPORT_ERRORS]


@pytest.mark.parametrize(("error", "reason"), TRANSPORT_ERRORS, ids=ERROR_IDS)
async def test_every_transport_error_during_metadata_discovery_is_a_token_request_error(
    error: BaseException, reason: str
) -> None:
    failure = await metadata_failure(raising(error))

    assert failure.reason == reason
    assert ISSUER in str(failure)


@pytest.mark.parametrize(("error", "reason"), TRANSPORT_ERRORS, ids=ERROR_IDS)
async def test_every_transport_error_during_a_token_request_is_a_token_request_error(
    error: BaseException, reason: str
) -> None:
    failure = await token_failure(raising(error))

    assert failure.reason == reason
    assert TOKEN_ENDPOINT in str(failure)


async def test_token_answer_nested_too_deeply_to_decode_is_a_bad_response() -> None:
    error = await token_failure(answering(200, "[" * 100_000))

    assert error.reason == "BadResponse"


# --- the server's own text, bounded -------------------------------------------------------------


def rejected_with(**oauth_error: str) -> Handler:
    return answering(400, json.dumps(oauth_error))


async def test_short_error_description_is_kept_whole() -> None:
    description = "MP-100: Invalid client id"

    error = await token_failure(
        rejected_with(error="invalid_client", error_description=description)
    )

    assert error.description == description
    assert str(error).endswith(f"invalid_client: {description}")


async def test_maskinportens_error_code_is_read_from_the_error_description() -> None:
    description = "Invalid assertion. Client authentication failed. MP-121: Expired key"

    error = await token_failure(rejected_with(error="invalid_grant", error_description=description))

    assert error.code == "MP-121"


async def test_an_error_description_without_a_maskinporten_code_has_none() -> None:
    error = await token_failure(
        rejected_with(error="invalid_client", error_description="Client not found")
    )

    assert error.code is None


async def test_long_error_description_is_cut_to_300_characters_ending_in_an_ellipsis() -> None:
    description = "MP-100: " + "x" * 10_000

    error = await token_failure(
        rejected_with(error="invalid_client", error_description=description)
    )

    assert error.description == description[:299] + "…"
    assert len(str(error)) < 500


async def test_line_breaks_and_control_characters_in_error_description_become_one_space() -> None:
    description = "MP-100:\r\n\tInvalid\x1b[31m client\u2028id\x00"

    error = await token_failure(
        rejected_with(error="invalid_client", error_description=description)
    )

    assert error.description == "MP-100: Invalid [31m client id"
    assert str(error).endswith("invalid_client: MP-100: Invalid [31m client id")


async def test_long_error_code_is_cut_to_300_characters_too() -> None:
    error = await token_failure(rejected_with(error="e" * 10_000))

    assert error.error == "e" * 299 + "…"


# --- no secrets in the errors -------------------------------------------------------------------


async def test_unexpected_error_while_sending_a_grant_names_its_type_but_not_its_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise ValueError(f"cannot send {request.content.decode()}")

    error = await token_failure(handler)

    assert error.reason == "ServerUnreachable"
    assert "ValueError" in str(error)


@pytest.fixture
async def standin() -> AsyncIterator[MaskinportenStandin]:
    async with MaskinportenStandin() as server:
        yield server


@pytest.mark.parametrize("token", ["eyJ.secret\nheader-injection", "eyJ.secret-with-\u00f8"])
async def test_token_no_http_header_can_carry_is_not_repeated_when_the_altinn_exchange_fails(
    standin: MaskinportenStandin, token: str
) -> None:
    client = AuthorizationServerClient(timeout_seconds=5)
    try:
        with pytest.raises(TokenRequestError) as caught:
            await client.exchange_for_altinn(standin.altinn_exchange_url, token)
    finally:
        await client.aclose()

    assert "secret" not in str(caught.value)
    assert standin.altinn_exchange_url in str(caught.value)
