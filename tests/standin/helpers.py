"""Hand-built JWT grants for the stand-in tests: joserfc and the test CA, no operator code."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import Key, RSAKey

from maskinporten_testbed.standin import MaskinportenStandin
from maskinporten_testbed.testca import BusinessCertificate

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
KID = "test-key-1"
ORG = "123456789"
OTHER_ORG = "987654321"
CLIENT_ID = "kid-client"
CERT_CLIENT_ID = "cert-client"
SCOPE = "test:read"
LONG_SCOPE = "test:long"
RESOURCE = "https://api.example.no/"
SYSTEMUSER = [
    {
        "type": "urn:altinn:systemuser",
        "systemuser_org": {"authority": "iso6523-actorid-upis", "ID": f"0192:{OTHER_ORG}"},
    }
]
CONSENT = {
    "type": "urn:altinn:consent",
    "id": "0a7d59f8-8c62-4312-9fb4-62456664c96f",
    "from": "urn:altinn:person:identifier-no:05848998356",
}


def new_client_key(kid: str = KID) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"})


def without_alg(key: RSAKey) -> RSAKey:
    """The same key, free to sign with any RSA algorithm."""
    jwk = key.as_dict(private=True)
    del jwk["alg"]
    return RSAKey.import_key(jwk)


def sign(header: dict[str, Any], claims: dict[str, Any], key: Key) -> str:
    return jwt.encode(header, claims, key, algorithms=[header["alg"]])


@dataclass
class Grants:
    """Builds grants for one running stand-in; overrides replace claims, ``drop`` removes them."""

    standin: MaskinportenStandin
    key: RSAKey

    def claims(self, drop: Iterable[str] = (), **overrides: Any) -> dict[str, Any]:
        now = int(self.standin.clock.now())
        claims: dict[str, Any] = {
            "aud": self.standin.issuer,
            "iss": CLIENT_ID,
            "scope": SCOPE,
            "iat": now,
            "exp": now + 60,
            "jti": str(uuid.uuid4()),
        }
        claims.update(overrides)
        for name in drop:
            del claims[name]
        return claims

    def kid(self, drop: Iterable[str] = (), **overrides: Any) -> str:
        return sign({"alg": "RS256", "kid": KID}, self.claims(drop, **overrides), self.key)

    def x5c(
        self,
        certificate: BusinessCertificate,
        alg: str = "RS256",
        drop: Iterable[str] = (),
        **overrides: Any,
    ) -> str:
        key = RSAKey.import_key(certificate.private_key_pem())
        header = {"alg": alg, "x5c": certificate.x5c()}
        return sign(header, self.claims(drop, **{"iss": CERT_CLIENT_ID, **overrides}), key)


async def post_grant(
    http: httpx.AsyncClient, standin: MaskinportenStandin, assertion: str
) -> httpx.Response:
    return await http.post(
        standin.token_endpoint, data={"grant_type": GRANT_TYPE, "assertion": assertion}
    )


def assert_rejected(response: httpx.Response, error: str, code: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == error, body
    assert body["error_description"].startswith(f"{code}: "), body
