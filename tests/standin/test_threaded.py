"""The stand-in on its own thread, driven through the synchronous handle."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from joserfc.jwk import RSAKey

from maskinporten_testbed.standin import (
    Client,
    FrozenClock,
    MaskinportenStandin,
    RegisteredKey,
    StandinThread,
)

from .helpers import CLIENT_ID, GRANT_TYPE, KID, ORG, SCOPE, sign


@pytest.fixture
def handle(client_key: RSAKey) -> Iterator[StandinThread]:
    clock = FrozenClock(int(time.time()))
    with StandinThread(MaskinportenStandin(lifetimes={SCOPE: 300}, clock=clock)) as standin:
        key = RegisteredKey(client_key.as_dict(private=False))
        standin.register_client(Client(CLIENT_ID, ORG, frozenset({SCOPE}), keys=(key,)))
        yield standin


def _grant(handle: StandinThread, key: RSAKey) -> str:
    now = int(handle.now())
    claims = {
        "aud": handle.issuer,
        "iss": CLIENT_ID,
        "scope": SCOPE,
        "iat": now,
        "exp": now + 30,
        "jti": f"jti-{now}-{handle.request_count()}",
    }
    return sign({"alg": "RS256", "kid": KID}, claims, key)


def _post(handle: StandinThread, assertion: str) -> httpx.Response:
    data = {"grant_type": GRANT_TYPE, "assertion": assertion}
    return httpx.post(handle.token_endpoint, data=data, timeout=10)


def test_threaded_handle_serves_tokens_and_counts_requests(
    handle: StandinThread, client_key: RSAKey
) -> None:
    response = _post(handle, _grant(handle, client_key))

    assert response.status_code == 200, response.text
    assert response.json()["expires_in"] == 300
    assert handle.request_count(CLIENT_ID) == 1
    assert handle.requests()[0].outcome == "ok"


def test_threaded_handle_refuses_and_resumes_on_the_same_port(
    handle: StandinThread, client_key: RSAKey
) -> None:
    port = handle.port
    handle.refuse_connections()

    with pytest.raises(httpx.ConnectError):
        _post(handle, _grant(handle, client_key))
    handle.accept_connections()

    assert handle.port == port
    assert _post(handle, _grant(handle, client_key)).status_code == 200


def test_threaded_handle_injects_faults(handle: StandinThread, client_key: RSAKey) -> None:
    handle.fail_next(1, status=503)

    assert _post(handle, _grant(handle, client_key)).status_code == 503
    assert _post(handle, _grant(handle, client_key)).status_code == 200


def test_threaded_handle_is_stopped_by_its_context(client_key: RSAKey) -> None:
    with StandinThread() as standin:
        url = standin.metadata_url

    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


def test_threaded_handle_reports_a_port_in_use_and_ends_its_thread(handle: StandinThread) -> None:
    second = StandinThread(MaskinportenStandin(port=handle.port))
    threads_before = set(threading.enumerate())

    with pytest.raises(OSError, match="address already in use"):
        second.start()

    assert set(threading.enumerate()) == threads_before
