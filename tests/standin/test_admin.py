"""The JSON admin API other processes use to set the stand-in up."""

from __future__ import annotations

import httpx
from joserfc.jwk import RSAKey

from maskinporten_testbed.network import accepts_connections
from maskinporten_testbed.polling import eventually_async
from maskinporten_testbed.standin import FrozenClock, MaskinportenStandin
from maskinporten_testbed.testca import BusinessCertificate, CertificateAuthority

from .helpers import CLIENT_ID, ORG, SCOPE, Grants, assert_rejected, post_grant, sign


def _admin(standin: MaskinportenStandin, path: str) -> str:
    return f"{standin.base_url}admin/{path}"


async def test_client_registered_through_admin_api_gets_tokens(
    standin: MaskinportenStandin, http: httpx.AsyncClient
) -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "demo-1", "alg": "RS256", "use": "sig"})
    body = {
        "client_id": "demo",
        "org": ORG,
        "scopes": ["demo:scope"],
        "keys": [{"jwk": key.as_dict(private=False), "expires_at": None}],
    }

    created = await http.post(_admin(standin, "clients"), json=body)
    claims = Grants(standin, key).claims(iss="demo", scope="demo:scope")
    response = await post_grant(http, standin, sign({"alg": "RS256", "kid": "demo-1"}, claims, key))

    assert created.status_code == 201, created.text
    assert response.status_code == 200, response.text


async def test_admin_api_refuses_a_private_jwk_with_400(
    standin: MaskinportenStandin, http: httpx.AsyncClient, client_key: RSAKey
) -> None:
    body = {
        "client_id": "demo",
        "org": ORG,
        "scopes": [SCOPE],
        "keys": [{"jwk": client_key.as_dict(private=True)}],
    }

    response = await http.post(_admin(standin, "clients"), json=body)

    assert response.status_code == 400
    assert "public" in response.json()["error"]


async def test_client_removed_through_admin_api_is_unknown(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    await http.delete(_admin(standin, f"clients/{CLIENT_ID}"))

    response = await post_grant(http, standin, grants.kid())

    assert_rejected(response, "invalid_grant", "MP-100")


async def test_admin_fail_next_injects_the_given_status(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    await http.post(_admin(standin, "faults"), json={"fail_next": {"count": 1, "status": 500}})

    failed = await post_grant(http, standin, grants.kid())
    recovered = await post_grant(http, standin, grants.kid())

    assert (failed.status_code, recovered.status_code) == (500, 200)
    assert failed.json()["error"] == "server_error"


async def test_admin_outage_window_answers_503(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    now = standin.clock.now()
    await http.post(_admin(standin, "faults"), json={"outage": {"start": now, "end": now + 60}})

    response = await post_grant(http, standin, grants.kid())

    assert response.status_code == 503


async def test_admin_refuse_seconds_refuses_connections_for_that_long(
    standin: MaskinportenStandin, clock: FrozenClock, http: httpx.AsyncClient, grants: Grants
) -> None:
    await http.post(_admin(standin, "faults"), json={"refuse_seconds": 0.5})
    await eventually_async(lambda: clock.sleepers, what="the server to refuse for a while")

    refused = not accepts_connections(standin.host, standin.port)
    clock.advance(0.5)
    await eventually_async(
        lambda: accepts_connections(standin.host, standin.port), what="connections accepted"
    )
    response = await post_grant(http, standin, grants.kid())

    assert refused
    assert response.status_code == 200, response.text


async def test_admin_clear_removes_latency(
    standin: MaskinportenStandin, http: httpx.AsyncClient
) -> None:
    await http.post(_admin(standin, "faults"), json={"latency": 2.0})
    await http.post(_admin(standin, "faults"), json={"clear": True})

    assert standin.faults.latency == 0


async def test_admin_rejects_unknown_fault_fields_with_400(
    standin: MaskinportenStandin, http: httpx.AsyncClient
) -> None:
    response = await http.post(_admin(standin, "faults"), json={"explode": True})

    assert response.status_code == 400


async def test_admin_clock_offset_moves_the_server_clock(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    assertion = grants.kid()

    await http.post(_admin(standin, "clock"), json={"offset": 300})
    response = await post_grant(http, standin, assertion)

    assert_rejected(response, "invalid_grant", "MP-100")


async def test_admin_lifetimes_set_expires_in(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    await http.put(_admin(standin, "lifetimes"), json={SCOPE: 30})

    response = await post_grant(http, standin, grants.kid())

    assert response.json()["expires_in"] == 30


async def test_admin_trusted_ca_makes_its_certificates_acceptable(
    standin: MaskinportenStandin, http: httpx.AsyncClient, grants: Grants
) -> None:
    other = CertificateAuthority("Other")
    pem = other.root_pem().decode()

    await http.post(_admin(standin, "trusted-cas"), json={"pem": pem})
    response = await post_grant(http, standin, grants.x5c(other.issue(ORG)))

    assert response.status_code == 200, response.text


async def test_admin_requests_lists_and_clears_the_request_log(
    standin: MaskinportenStandin,
    http: httpx.AsyncClient,
    grants: Grants,
    business_certificate: BusinessCertificate,
) -> None:
    await post_grant(http, standin, grants.kid())
    await post_grant(http, standin, grants.x5c(business_certificate))

    listed = (await http.get(_admin(standin, "requests"), params={"client_id": CLIENT_ID})).json()
    await http.delete(_admin(standin, "requests"))
    cleared = (await http.get(_admin(standin, "requests"))).json()

    assert listed["count"] == 1
    assert listed["requests"][0]["outcome"] == "ok"
    assert set(listed["requests"][0]) == {"at", "client_id", "status", "outcome"}
    assert cleared == {"count": 0, "requests": []}
