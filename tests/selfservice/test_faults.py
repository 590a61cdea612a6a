"""Faults injected into the self-service API, apart from the token endpoint's."""

from __future__ import annotations

import httpx
import pytest

from maskinporten_testbed.selfservice import SelfServiceStandin
from maskinporten_testbed.standin import MaskinportenStandin

from .helpers import Api, client_model


async def test_the_next_n_requests_get_the_injected_answer_then_service_resumes(
    api: Api, selfservice: SelfServiceStandin
) -> None:
    selfservice.fail_next(2, status=502, body="<html>Bad Gateway</html>", content_type="text/html")

    answers = [await api.call("GET", "clients") for _ in range(3)]

    assert [r.status_code for r in answers] == [502, 502, 200]
    assert answers[0].text == "<html>Bad Gateway</html>"


async def test_an_injected_failure_changes_nothing(
    api: Api, selfservice: SelfServiceStandin
) -> None:
    before = (await api.call("GET", "clients")).json()
    selfservice.fail_next(1)

    response = await api.call("POST", "clients", client_model())

    assert response.status_code == 503
    assert (await api.call("GET", "clients")).json() == before


async def test_faults_of_the_api_leave_the_token_endpoint_alone(
    api: Api, selfservice: SelfServiceStandin, standin: MaskinportenStandin
) -> None:
    selfservice.fail_next(5)

    await api.log_in()  # a token request

    assert standin.request_count() >= 1
    assert selfservice.request_count() == 0


async def test_an_outage_answers_503_only_while_it_lasts(
    api: Api, selfservice: SelfServiceStandin, standin: MaskinportenStandin
) -> None:
    now = standin.clock.now()
    selfservice.set_outage(now, now + 60)

    during = await api.call("GET", "clients")
    standin.set_clock_offset(60)
    after = await api.call("GET", "clients")

    assert (during.status_code, after.status_code) == (503, 200)


async def test_latency_delays_answers(api: Api, selfservice: SelfServiceStandin) -> None:
    selfservice.set_latency(0.3)

    response = await api.call("GET", "clients")

    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.3


async def test_refused_connections_resume_on_the_same_port(
    api: Api, selfservice: SelfServiceStandin
) -> None:
    port = selfservice.port
    await selfservice.refuse_connections()

    with pytest.raises(httpx.ConnectError):
        await api.call("GET", "clients")
    await selfservice.accept_connections()

    assert selfservice.port == port
    assert (await api.call("GET", "clients")).status_code == 200
