"""An aiohttp application served on loopback that can stop and resume listening on its port:
what the Maskinporten and self-service API stand-ins share."""

from __future__ import annotations

import ssl
from types import TracebackType
from typing import Self

from aiohttp import web

IN_FLIGHT_GRACE = 2.0
"""Seconds in-flight requests get to finish when the server stops listening or stops."""


class LoopbackSite:
    """Serves ``app`` on ``host``:``port`` (0: a free port, kept across restarts), over https
    with ``ssl_context``."""

    def __init__(
        self,
        app: web.Application,
        *,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self._port = port
        self._app = app
        self._ssl_context = ssl_context
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    @property
    def port(self) -> int:
        if self._port == 0:
            raise RuntimeError("the stand-in has not started yet")
        return self._port

    async def start(self) -> None:
        runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=IN_FLIGHT_GRACE)
        await runner.setup()
        self._runner = runner
        await self.accept_connections()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = self._site = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def refuse_connections(self) -> None:
        """Stop listening and close open connections (in-flight ones may finish); keep state."""
        if self._site is None or self._runner is None:
            return
        await self._site.stop()
        self._site = None
        server = self._runner.server
        if server is not None:
            server.pre_shutdown()
            await server.shutdown(IN_FLIGHT_GRACE)

    async def accept_connections(self) -> None:
        """Listen (again), on the same port as before."""
        if self._site is not None or self._runner is None:
            return
        site = web.TCPSite(self._runner, self.host, self._port, ssl_context=self._ssl_context)
        await site.start()
        self._site = site
        self._port = site.port
