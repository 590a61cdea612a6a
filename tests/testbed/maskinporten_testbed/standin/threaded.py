"""The Maskinporten stand-in on a background thread with its own event loop, behind a
synchronous handle (see :mod:`maskinporten_testbed.threaded`)."""

from __future__ import annotations

from cryptography import x509

from maskinporten_testbed.faultable import DEFAULT_FAILURE_BODY, JSON
from maskinporten_testbed.threaded import LoopThread, SiteHandle

from .model import Client, RequestRecord
from .server import MaskinportenStandin


class StandinThread(SiteHandle[MaskinportenStandin, RequestRecord]):
    """Synchronous, thread-safe handle; use as a context manager or call ``start``/``stop``."""

    def __init__(self, standin: MaskinportenStandin | None = None) -> None:
        """``standin``: a configured server that has not started; a default one otherwise."""
        super().__init__(LoopThread("maskinporten-standin"), standin or MaskinportenStandin())

    def start(self) -> StandinThread:
        self.loop.start()
        try:
            self.run(self.server.start())
        except BaseException:
            self.loop.stop()
            raise
        return self

    def stop(self) -> None:
        if not self.loop.running:
            return
        try:
            self.run(self.server.stop())
        finally:
            self.loop.stop()

    @property
    def issuer(self) -> str:
        return self.server.issuer

    @property
    def token_endpoint(self) -> str:
        return self.server.token_endpoint

    @property
    def jwks_uri(self) -> str:
        return self.server.jwks_uri

    @property
    def metadata_url(self) -> str:
        return self.server.metadata_url

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def altinn_exchange_url(self) -> str:
        return self.server.altinn_exchange_url

    def register_client(self, client: Client) -> None:
        self.call(lambda s: s.register_client(client))

    def remove_client(self, client_id: str) -> None:
        self.call(lambda s: s.remove_client(client_id))

    def trust_ca(self, certificate: x509.Certificate) -> None:
        self.call(lambda s: s.trust_ca(certificate))

    def set_lifetime(self, scope: str, seconds: int) -> None:
        self.call(lambda s: s.set_lifetime(scope, seconds))

    def set_clock_offset(self, seconds: float) -> None:
        self.call(lambda s: s.set_clock_offset(seconds))

    def now(self) -> float:
        return self.call(lambda s: s.clock.now())

    def set_client_latency(self, client_id: str, seconds: float) -> None:
        self.call(lambda s: s.set_client_latency(client_id, seconds))

    def fail_client(
        self,
        client_id: str,
        count: int,
        status: int = 503,
        body: str = DEFAULT_FAILURE_BODY,
        content_type: str = JSON,
    ) -> None:
        self.call(lambda s: s.fail_client(client_id, count, status, body, content_type))

    def issued_tokens(self) -> list[str]:
        return self.call(lambda s: s.issued_tokens())
