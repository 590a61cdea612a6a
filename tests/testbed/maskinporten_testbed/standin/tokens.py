"""Access tokens: self-contained JWTs signed with the stand-in's own key, published at ``/jwk``."""

from __future__ import annotations

import uuid
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from .authz import PARTY_AUTHORITY, Authorization
from .grant import Authenticated


def _party(org: str) -> dict[str, str]:
    return {"authority": PARTY_AUTHORITY, "ID": f"0192:{org}"}


class TokenSigner:
    def __init__(self) -> None:
        self._key = RSAKey.generate_key(
            2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True
        )

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._key.as_dict(private=False)]}

    def issue(
        self,
        issuer: str,
        who: Authenticated,
        what: Authorization,
        lifetime: int,
        now: float,
    ) -> dict[str, Any]:
        """The ``/token`` response body."""
        client = who.client
        iat = int(now)
        scope = " ".join(what.scopes)
        claims: dict[str, Any] = {
            "iss": issuer,
            "client_id": client.client_id,
            "client_amr": who.method,
            "scope": scope,
            "iat": iat,
            "exp": iat + lifetime,
            "jti": str(uuid.uuid4()),
            "consumer": _party(what.consumer_org or client.org),
        }
        if what.consumer_org is not None:
            claims["supplier"] = _party(client.org)
        if what.resources:
            claims["aud"] = what.resources[0] if len(what.resources) == 1 else list(what.resources)
        if what.authorization_details is not None:
            claims["authorization_details"] = what.authorization_details
        token = self._sign(claims)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": scope,
        }

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode({"alg": "RS256", "kid": self._key.kid}, claims, self._key)

    def verify(self, token: str, now: float) -> dict[str, Any] | None:
        """The claims of a token signed with this signer's key and unexpired at ``now``."""
        try:
            claims = jwt.decode(token, self._key, algorithms=["RS256"]).claims
        except (JoseError, ValueError):
            return None
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
            return None
        return dict(claims)

    def exchange_for_altinn(self, maskinporten_token: str, now: float) -> str | None:
        """An Altinn-style token for a valid token this server issued, else None."""
        claims = self.verify(maskinporten_token, now)
        if claims is None:
            return None
        org = str(claims.get("consumer", {}).get("ID", "")).removeprefix("0192:")
        return self._sign(
            {
                "iss": "altinn-standin",
                "token_type": "altinn",
                "scope": claims.get("scope", ""),
                "client_id": claims.get("client_id", ""),
                "urn:altinn:orgNumber": org,
                "iat": int(now),
                "exp": claims["exp"],
                "jti": str(uuid.uuid4()),
            }
        )
