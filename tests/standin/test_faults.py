"""Injected faults on /token and the request log tests count with."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque

import httpx
import pytest

from maskinporten_testbed.polling import eventually_async
from maskinporten_testbed.standin import FrozenClock, MaskinportenStandin

from .helpers import CLIENT_ID, Grants, new_client_key, post_grant, sign


async def test_latency_holds_each_answer_until_that_many_seconds_have_passed(
    standin: MaskinportenStandin, clock: FrozenClock, http: httpx.AsyncClient, grants: Grants
) -> None:
    standin.set_latency(0.5)
    answer = asyncio.create_task(post_grant(http, standin, grants.kid()))
    await eventually_async(lambda: clock.sleepers, what="the server to hold the answer")

    clock.advance(0.25)
    held_after_a_quarter_second = clock.sleepers
    clock.advance(0.25)
    response = await answer

    assert held_after_a_quarter_second == 1
    assert response.status_code == 200


async def test_next_n_requests_get_the_injected_status_and_body_then_service_resumes(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    standin.fail_next(2, status=502, body="<html>Bad Gateway</html>", content_type="text/html")

    first = await post_grant(http, standin, grants.kid())
    second = await post_grant(http, standin, grants.kid())
    third = await post_grant(http, standin, grants.kid())

    assert [r.status_code for r in (first, second, third)] == [502, 502, 200]
    assert first.text == "<html>Bad Gateway</html>"
    assert first.headers["content-type"].startswith("text/html")


async def test_refused_connections_resume_on_the_same_port(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    port = standin.port
    await post_grant(http, standin, grants.kid())
    await standin.refuse_connections()

    with pytest.raises(httpx.ConnectError):
        await post_grant(http, standin, grants.kid())
    await standin.accept_connections()
    response = await post_grant(http, standin, grants.kid())

    assert standin.port == port
    assert response.status_code == 200, response.text


async def test_outage_window_answers_503_from_its_start_until_its_end(
    standin: MaskinportenStandin, clock: FrozenClock, http: httpx.AsyncClient, grants: Grants
) -> None:
    now = clock.now()
    standin.set_outage(now, now + 60)

    at_start = await post_grant(http, standin, grants.kid())
    clock.advance(59)
    before_end = await post_grant(http, standin, grants.kid())
    clock.advance(1)
    at_end = await post_grant(http, standin, grants.kid())

    assert (at_start.status_code, before_end.status_code) == (503, 503)
    assert at_end.status_code == 200, at_end.text


async def test_clear_faults_restores_normal_service(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    standin.fail_next(5)
    standin.clear_faults()

    response = await post_grant(http, standin, grants.kid())

    assert response.status_code == 200


async def test_request_log_records_time_client_status_and_outcome_per_call(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    standin.fail_next(1)
    await post_grant(http, standin, grants.kid())
    await post_grant(http, standin, grants.kid())
    await post_grant(
        http, standin, sign({"alg": "RS256", "kid": "x"}, grants.claims(), new_client_key())
    )

    entries = standin.requests(CLIENT_ID)
    assert [(e.client_id, e.status, e.outcome) for e in entries] == [
        (CLIENT_ID, 503, "fault:503"),
        (CLIENT_ID, 200, "ok"),
        (CLIENT_ID, 400, "MP-100"),
    ]
    assert {e.at for e in entries} == {standin.clock.now()}
    assert {f.name for f in dataclasses.fields(entries[0])} == {
        "at",
        "client_id",
        "status",
        "outcome",
    }


async def test_request_count_counts_per_client(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    await post_grant(http, standin, grants.kid())
    await post_grant(http, standin, grants.kid(iss="someone-else"))

    assert standin.request_count() == 2
    assert standin.request_count(CLIENT_ID) == 1


async def test_request_count_goes_on_beyond_the_request_log(
    standin: MaskinportenStandin,
    http: httpx.AsyncClient,
    grants: Grants,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(standin.request_log, "_entries", deque(maxlen=1))
    await post_grant(http, standin, grants.kid())
    await post_grant(http, standin, grants.kid())

    assert (len(standin.requests(CLIENT_ID)), standin.request_count(CLIENT_ID)) == (1, 2)


async def test_logs_name_client_and_outcome_but_never_grant_or_token(
    standin: MaskinportenStandin,
    http: httpx.AsyncClient,
    grants: Grants,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    assertion = grants.kid()

    response = await post_grant(http, standin, assertion)

    assert f"client={CLIENT_ID} status=200 outcome=ok" in caplog.text
    assert assertion not in caplog.text
    assert response.json()["access_token"] not in caplog.text


async def test_a_fault_for_one_client_leaves_the_others_served(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    standin.fail_client("someone-else", 5, status=500)
    standin.fail_client(CLIENT_ID, 1, status=502)

    first = await post_grant(http, standin, grants.kid())
    second = await post_grant(http, standin, grants.kid())

    assert [first.status_code, second.status_code] == [502, 200]


async def test_latency_for_one_client_holds_only_that_clients_answers(
    standin: MaskinportenStandin, clock: FrozenClock, http: httpx.AsyncClient, grants: Grants
) -> None:
    standin.set_client_latency("someone-else", 30)
    served = await post_grant(http, standin, grants.kid())
    standin.set_client_latency(CLIENT_ID, 0.5)
    held = asyncio.create_task(post_grant(http, standin, grants.kid()))
    await eventually_async(lambda: clock.sleepers, what="the server to hold the answer")
    clock.advance(0.5)

    assert served.status_code == 200
    assert (await held).status_code == 200


async def test_every_issued_token_is_kept_for_leak_checks(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    first = (await post_grant(http, standin, grants.kid())).json()["access_token"]
    standin.fail_next(1)
    await post_grant(http, standin, grants.kid())
    second = (await post_grant(http, standin, grants.kid())).json()["access_token"]

    assert standin.issued_tokens() == [first, second]
