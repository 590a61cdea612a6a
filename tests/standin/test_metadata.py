"""Discovery: RFC 8414 metadata and the server's own signing keys."""

from __future__ import annotations

import httpx
import pytest
from joserfc.jwk import RSAKey

from maskinporten_testbed.standin import Client, MaskinportenStandin, RegisteredKey

from .helpers import CLIENT_ID, ORG, SCOPE, Grants


async def test_metadata_describes_issuer_endpoints_and_grant(
    standin: MaskinportenStandin, http: httpx.AsyncClient
) -> None:
    response = await http.get(standin.metadata_url)

    assert response.json() == {
        "issuer": f"http://127.0.0.1:{standin.port}/",
        "token_endpoint": f"http://127.0.0.1:{standin.port}/token",
        "jwks_uri": f"http://127.0.0.1:{standin.port}/jwk",
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "grant_types_supported": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "RS384", "RS512"],
        "authorization_details_types_supported": ["urn:altinn:systemuser", "urn:altinn:consent"],
    }


async def test_jwk_endpoint_publishes_one_public_rs256_key_with_a_kid(
    standin: MaskinportenStandin, http: httpx.AsyncClient
) -> None:
    (key,) = (await http.get(standin.jwks_uri)).json()["keys"]

    assert key["kty"] == "RSA"
    assert key["alg"] == "RS256"
    assert key["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()


async def test_configured_issuer_is_announced_and_required_as_audience(
    http: httpx.AsyncClient, client_key: RSAKey
) -> None:
    issuer = "http://maskinporten.test.svc:8080/"
    async with MaskinportenStandin(issuer=issuer) as standin:
        key = RegisteredKey(client_key.as_dict(private=False))
        standin.register_client(Client(CLIENT_ID, ORG, frozenset({SCOPE}), keys=(key,)))
        metadata = (
            await http.get(f"{standin.base_url}.well-known/oauth-authorization-server")
        ).json()
        response = await http.post(
            f"{standin.base_url}token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": Grants(standin, client_key).kid(),
            },
        )

    assert metadata["issuer"] == issuer
    assert metadata["token_endpoint"] == f"{issuer}token"
    assert response.status_code == 200, response.text


def test_unstarted_server_on_a_free_port_has_no_issuer_yet() -> None:
    standin = MaskinportenStandin()

    with pytest.raises(RuntimeError):
        _ = standin.issuer
