"""Metadata discovery (RFC 8414): a cache per issuer, one request in flight per issuer, issuers
independent of each other, and the last good document served for a bounded time when a refresh
fails.

The server is an ``httpx.MockTransport`` whose answers the test holds back and releases with
``asyncio.Event``s; the cache's clock is frozen and moved by hand. Nothing waits on wall time:
``settle`` gives the event loop a bounded number of turns, and the transport needs no IO.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from maskinporten_operator.oauth.authserver import (
    METADATA_MAX_AGE_SECONDS,
    METADATA_STALE_LIMIT_SECONDS,
    AuthorizationServerClient,
)
from maskinporten_operator.oauth.server_model import ServerMetadata, TokenRequestError

ISSUER_A = "https://a.example.net/"
ISSUER_B = "https://b.example.net/"
LOOP_TURNS = 1000
"""Far more event-loop turns than a request through the mock transport takes."""


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeIssuers:
    """Answers metadata requests for any issuer; records them; can hold answers back or fail."""

    requests: list[str] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    hold: dict[str, asyncio.Event] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)
    token_endpoints: dict[str, str] = field(default_factory=dict)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        issuer = f"{request.url.scheme}://{request.url.netloc.decode()}/"
        self.requests.append(issuer)
        if issuer in self.hold:
            await self.hold[issuer].wait()
        self.answered.append(issuer)
        if issuer in self.failing:
            return httpx.Response(503, json={"error": "temporarily_unavailable"})
        token_endpoint = self.token_endpoints.get(issuer, issuer + "token")
        return httpx.Response(200, json={"issuer": issuer, "token_endpoint": token_endpoint})

    def held(self, issuer: str) -> asyncio.Event:
        self.hold[issuer] = asyncio.Event()
        return self.hold[issuer]


async def settle(condition: Callable[[], bool]) -> bool:
    """Let other tasks run until ``condition`` holds, for at most ``LOOP_TURNS`` loop turns."""
    for _ in range(LOOP_TURNS):
        if condition():
            return True
        await asyncio.sleep(0)
    return condition()


@pytest.fixture
def issuers() -> FakeIssuers:
    return FakeIssuers()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def auth(
    issuers: FakeIssuers, clock: FrozenClock
) -> AsyncIterator[AuthorizationServerClient]:
    client = AuthorizationServerClient(
        timeout_seconds=1.0, clock=clock, transport=httpx.MockTransport(issuers)
    )
    yield client
    await client.aclose()


async def cancelled(*tasks: asyncio.Task[ServerMetadata]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def let_every_task_run() -> None:
    await settle(lambda: False)


# --- issuers do not wait for each other ---------------------------------------------------------


async def test_metadata_of_another_issuer_is_fetched_while_one_issuers_request_is_open(
    issuers: FakeIssuers, auth: AuthorizationServerClient
) -> None:
    release_a = issuers.held(ISSUER_A)
    a = asyncio.create_task(auth.metadata(ISSUER_A))
    assert await settle(lambda: issuers.requests == [ISSUER_A])

    b = asyncio.create_task(auth.metadata(ISSUER_B))
    b_finished_first = await settle(b.done)
    release_a.set()
    if not b_finished_first:
        await cancelled(a, b)

    assert b_finished_first
    assert (await b).issuer == ISSUER_B
    assert (await a).issuer == ISSUER_A
    assert issuers.answered == [ISSUER_B, ISSUER_A]


# --- one request in flight per issuer -----------------------------------------------------------


async def test_concurrent_callers_for_one_issuer_share_one_request(
    issuers: FakeIssuers, auth: AuthorizationServerClient
) -> None:
    release = issuers.held(ISSUER_A)
    callers = [asyncio.create_task(auth.metadata(ISSUER_A)) for _ in range(5)]
    assert await settle(lambda: len(issuers.requests) >= 1)
    await let_every_task_run()

    release.set()
    results = await asyncio.gather(*callers)

    assert issuers.requests == [ISSUER_A]
    assert {metadata.issuer for metadata in results} == {ISSUER_A}


async def test_concurrent_callers_for_one_failing_issuer_share_one_failed_request(
    issuers: FakeIssuers, auth: AuthorizationServerClient
) -> None:
    issuers.failing.add(ISSUER_A)
    release = issuers.held(ISSUER_A)
    callers = [asyncio.create_task(auth.metadata(ISSUER_A)) for _ in range(5)]
    await let_every_task_run()

    release.set()
    results = await asyncio.gather(*callers, return_exceptions=True)

    assert issuers.requests == [ISSUER_A]
    assert all(isinstance(result, TokenRequestError) for result in results)
    assert {result.reason for result in results if isinstance(result, TokenRequestError)} == {
        "ServerError"
    }


async def test_failed_request_does_not_poison_the_next_call(
    issuers: FakeIssuers, auth: AuthorizationServerClient
) -> None:
    issuers.failing.add(ISSUER_A)
    with pytest.raises(TokenRequestError):
        await auth.metadata(ISSUER_A)
    issuers.failing.clear()

    metadata = await auth.metadata(ISSUER_A)

    assert metadata.issuer == ISSUER_A
    assert issuers.requests == [ISSUER_A, ISSUER_A]


async def test_caller_cancelled_while_waiting_does_not_cancel_the_shared_request(
    issuers: FakeIssuers, auth: AuthorizationServerClient
) -> None:
    release = issuers.held(ISSUER_A)
    impatient = asyncio.create_task(auth.metadata(ISSUER_A))
    patient = asyncio.create_task(auth.metadata(ISSUER_A))
    assert await settle(lambda: issuers.requests == [ISSUER_A])

    await cancelled(impatient)
    release.set()

    assert (await patient).issuer == ISSUER_A
    assert issuers.requests == [ISSUER_A]


# --- the cache, and stale metadata when a refresh fails ------------------------------------------


async def test_metadata_younger_than_its_max_age_is_served_without_a_request(
    issuers: FakeIssuers, auth: AuthorizationServerClient, clock: FrozenClock
) -> None:
    first = await auth.metadata(ISSUER_A)
    clock.now += METADATA_MAX_AGE_SECONDS - 1

    assert await auth.metadata(ISSUER_A) == first
    assert issuers.requests == [ISSUER_A]


async def test_metadata_is_fetched_again_once_it_reaches_its_max_age(
    issuers: FakeIssuers, auth: AuthorizationServerClient, clock: FrozenClock
) -> None:
    await auth.metadata(ISSUER_A)
    issuers.token_endpoints[ISSUER_A] = ISSUER_A + "oauth2/token"
    clock.now += METADATA_MAX_AGE_SECONDS

    metadata = await auth.metadata(ISSUER_A)

    assert metadata.token_endpoint == ISSUER_A + "oauth2/token"
    assert issuers.requests == [ISSUER_A, ISSUER_A]


async def test_last_good_metadata_is_served_when_a_refresh_fails_within_the_stale_limit(
    issuers: FakeIssuers, auth: AuthorizationServerClient, clock: FrozenClock
) -> None:
    good = await auth.metadata(ISSUER_A)
    issuers.failing.add(ISSUER_A)
    clock.now += METADATA_MAX_AGE_SECONDS + METADATA_STALE_LIMIT_SECONDS - 1

    assert await auth.metadata(ISSUER_A) == good
    assert issuers.requests == [ISSUER_A, ISSUER_A]


async def test_serving_stale_metadata_logs_the_failed_refresh(
    issuers: FakeIssuers,
    auth: AuthorizationServerClient,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await auth.metadata(ISSUER_A)
    issuers.failing.add(ISSUER_A)
    clock.now += METADATA_MAX_AGE_SECONDS + 60

    with caplog.at_level(logging.WARNING, logger="maskinporten_operator.oauth.authserver"):
        await auth.metadata(ISSUER_A)

    assert len(caplog.records) == 1
    assert ISSUER_A in caplog.records[0].getMessage()
    assert "HTTP 503" in caplog.records[0].getMessage()


async def test_refresh_failure_shared_by_many_callers_is_logged_once(
    issuers: FakeIssuers,
    auth: AuthorizationServerClient,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await auth.metadata(ISSUER_A)
    issuers.failing.add(ISSUER_A)
    release = issuers.held(ISSUER_A)
    clock.now += METADATA_MAX_AGE_SECONDS + 60

    with caplog.at_level(logging.WARNING, logger="maskinporten_operator.oauth.authserver"):
        callers = [asyncio.create_task(auth.metadata(ISSUER_A)) for _ in range(5)]
        await let_every_task_run()
        release.set()
        await asyncio.gather(*callers)

    assert len(caplog.records) == 1


async def test_refresh_failure_past_the_stale_limit_is_raised(
    issuers: FakeIssuers, auth: AuthorizationServerClient, clock: FrozenClock
) -> None:
    await auth.metadata(ISSUER_A)
    issuers.failing.add(ISSUER_A)
    clock.now += METADATA_MAX_AGE_SECONDS + METADATA_STALE_LIMIT_SECONDS

    with pytest.raises(TokenRequestError) as caught:
        await auth.metadata(ISSUER_A)

    assert caught.value.reason == "ServerError"


async def test_successful_refresh_restarts_the_stale_limit(
    issuers: FakeIssuers, auth: AuthorizationServerClient, clock: FrozenClock
) -> None:
    await auth.metadata(ISSUER_A)
    clock.now += METADATA_MAX_AGE_SECONDS + METADATA_STALE_LIMIT_SECONDS
    refreshed = await auth.metadata(ISSUER_A)
    issuers.failing.add(ISSUER_A)
    clock.now += METADATA_MAX_AGE_SECONDS + METADATA_STALE_LIMIT_SECONDS - 1

    assert await auth.metadata(ISSUER_A) == refreshed


# --- the JWKS URI when the document names none ---------------------------------------------------


def document_without_jwks_uri(issuer: str) -> Callable[[httpx.Request], httpx.Response]:
    def handler(_: httpx.Request) -> httpx.Response:
        body = {"issuer": issuer, "token_endpoint": issuer.rstrip("/") + "/token"}
        return httpx.Response(200, text=json.dumps(body))

    return handler


@pytest.mark.parametrize(
    ("issuer", "jwks_uri"),
    [
        ("https://test.maskinporten.no/", "https://test.maskinporten.no/jwk"),
        ("https://idp.example.net/realms/team", "https://idp.example.net/realms/team/jwk"),
    ],
)
async def test_jwks_uri_defaults_to_jwk_under_the_issuer_with_or_without_a_trailing_slash(
    issuer: str, jwks_uri: str
) -> None:
    transport = httpx.MockTransport(document_without_jwks_uri(issuer))
    client = AuthorizationServerClient(timeout_seconds=1.0, transport=transport)
    try:
        metadata = await client.metadata(issuer)
    finally:
        await client.aclose()

    assert metadata.jwks_uri == jwks_uri


# --- where the document is looked for ------------------------------------------------------------


def serving_only(path: str, issuer: str) -> Callable[[httpx.Request], httpx.Response]:
    """An issuer that serves its metadata at ``path`` alone and answers 404 elsewhere."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path != path:
            return httpx.Response(404)
        body = {"issuer": issuer, "token_endpoint": issuer + "/token"}
        return httpx.Response(200, json=body)

    return handler


async def metadata_from(
    handler: Callable[[httpx.Request], httpx.Response], issuer: str
) -> ServerMetadata:
    client = AuthorizationServerClient(timeout_seconds=1.0, transport=httpx.MockTransport(handler))
    try:
        return await client.metadata(issuer)
    finally:
        await client.aclose()


async def test_metadata_is_read_from_openid_configuration_when_rfc_8414s_is_not_found() -> None:
    issuer = "https://sts.example.net/realms/team"
    handler = serving_only("/realms/team/.well-known/openid-configuration", issuer)

    metadata = await metadata_from(handler, issuer)

    assert metadata.well_known_url == issuer + "/.well-known/openid-configuration"
    assert metadata.token_endpoint == issuer + "/token"


async def test_openid_configuration_is_not_asked_when_rfc_8414s_document_answers() -> None:
    issuer = "https://sts.example.net"
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return serving_only("/.well-known/oauth-authorization-server", issuer)(request)

    await metadata_from(handler, issuer)

    assert asked == ["/.well-known/oauth-authorization-server"]


async def test_openid_configuration_is_not_asked_when_rfc_8414s_url_fails_otherwise() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503 if "oauth" in request.url.path else 200)

    with pytest.raises(TokenRequestError, match=r"oauth-authorization-server.*503"):
        await metadata_from(handler, "https://sts.example.net")


async def test_metadata_found_at_neither_url_names_both() -> None:
    issuer = "https://sts.example.net"

    with pytest.raises(TokenRequestError) as raised:
        await metadata_from(serving_only("/elsewhere", issuer), issuer)

    assert "oauth-authorization-server" in str(raised.value)
    assert "openid-configuration" in str(raised.value)
    assert raised.value.reason == "BadMetadata"
