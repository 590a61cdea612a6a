"""An authorization server over https whose certificate comes from a test CA: for clients that
must trust a private CA (a CA bundle) to reach it, and are refused without.

It answers its RFC 8414 metadata and every token request with its ``access_token``, made up at
random; it checks no grant. For the rules of Maskinporten itself, use the stand-in.
"""

from __future__ import annotations

import secrets
import ssl
import tempfile
from pathlib import Path

from aiohttp import web

from .site import LoopbackSite
from .testca import CertificateAuthority

LIFETIME_SECONDS = 120


def server_ssl_context(ca: CertificateAuthority, ip_address: str) -> ssl.SSLContext:
    """TLS settings for a server on ``ip_address`` with a certificate (and chain) from ``ca``."""
    issued = ca.issue_server(ip_address)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as directory:
        chain, key = Path(directory) / "chain.pem", Path(directory) / "key.pem"
        chain.write_bytes(issued.chain_pem())
        key.write_bytes(issued.private_key_pem())
        context.load_cert_chain(chain, key)
    return context


class HttpsIssuer(LoopbackSite):
    """Serves on a free loopback port from ``start`` to ``stop`` (or as an async context
    manager); ``issuer`` is its URL, ``https://127.0.0.1:<port>/``."""

    def __init__(self, ca: CertificateAuthority, *, host: str = "127.0.0.1") -> None:
        app = web.Application()
        app.router.add_get("/.well-known/oauth-authorization-server", self._metadata)
        app.router.add_post("/token", self._token)
        super().__init__(app, host=host, port=0, ssl_context=server_ssl_context(ca, host))
        self.access_token = secrets.token_urlsafe(16)

    @property
    def issuer(self) -> str:
        return f"https://{self.host}:{self.port}/"

    async def _metadata(self, _: web.Request) -> web.Response:
        return web.json_response({"issuer": self.issuer, "token_endpoint": self.issuer + "token"})

    async def _token(self, _: web.Request) -> web.Response:
        return web.json_response(
            {
                "access_token": self.access_token,
                "token_type": "Bearer",
                "expires_in": LIFETIME_SECONDS,
            }
        )
