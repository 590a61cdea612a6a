"""The self-service API stand-in on a :class:`StandinThread`'s loop, behind a synchronous handle
(see :mod:`maskinporten_testbed.threaded`)."""

from __future__ import annotations

from typing import Any

from maskinporten_testbed.standin.model import Client
from maskinporten_testbed.standin.threaded import StandinThread
from maskinporten_testbed.threaded import SiteHandle

from .model import APPROVED, DEFAULT_SCOPE_OWNER, INTEGRATION_TYPE, ApiRequestRecord
from .server import SelfServiceStandin


class SelfServiceThread(SiteHandle[SelfServiceStandin, ApiRequestRecord]):
    """Synchronous, thread-safe handle; the ``standin`` thread must be running.

    Use as a context manager or call ``start``/``stop``; stop it before the stand-in thread.
    """

    def __init__(
        self,
        standin: StandinThread,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        propagation_delay: float = 0.0,
    ) -> None:
        super().__init__(standin.loop)
        self._standin = standin
        self._options: dict[str, Any] = {
            "host": host,
            "port": port,
            "propagation_delay": propagation_delay,
        }

    def start(self) -> SelfServiceThread:
        server = self._standin.call(
            lambda maskinporten: SelfServiceStandin(maskinporten, **self._options)
        )
        self.run(server.start())
        self._server = server
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            self.run(server.stop())

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def set_propagation_delay(self, seconds: float) -> None:
        self.call(lambda s: s.set_propagation_delay(seconds))

    def set_registration_clock_offset(self, seconds: float) -> None:
        self.call(lambda s: s.set_registration_clock_offset(seconds))

    def grant_scope_access(
        self, org: str, *scopes: str, state: str = APPROVED, owner_org: str = DEFAULT_SCOPE_OWNER
    ) -> None:
        self.call(lambda s: s.grant_scope_access(org, *scopes, state=state, owner_org=owner_org))

    def add_public_scope(self, scope: str, owner_org: str = DEFAULT_SCOPE_OWNER) -> None:
        self.call(lambda s: s.add_public_scope(scope, owner_org))

    def register_client(
        self,
        client: Client,
        *,
        client_name: str | None = None,
        description: str = "",
        integration_type: str = INTEGRATION_TYPE,
    ) -> None:
        self.call(
            lambda s: s.register_client(
                client,
                client_name=client_name,
                description=description,
                integration_type=integration_type,
            )
        )

    def client_document(self, client_id: str) -> dict[str, Any] | None:
        return self.call(lambda s: s.client_document(client_id))

    def jwks_document(self, client_id: str) -> dict[str, Any] | None:
        return self.call(lambda s: s.jwks_document(client_id))
