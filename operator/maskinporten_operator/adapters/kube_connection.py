"""Reaching the Kubernetes API as the ``kubernetes`` package is configured: in-cluster or from
the kubeconfig (server, TLS, credentials, proxy), for the operator's own aiohttp client
(:mod:`.kube`) and for the watches, which use the ``kubernetes`` client (:mod:`.listwatch`).
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import kubernetes
import urllib3
from kubernetes.client.rest import should_bypass_proxies

CREDENTIALS_MAX_AGE_SECONDS = 1.0
"""How long the credentials read from the configuration are used before it is asked again (a
token that expired within that second is refused with 401, and its call tried again later)."""

RETRIES = urllib3.Retry(total=2, connect=0, read=2, redirect=0, allowed_methods={"GET"})
"""For the watches, which use the ``kubernetes`` client: a list or watch request is sent again
at once, at most twice, when the connection drops under it (a kept-alive connection the API
server closed just then)."""


def load_configuration() -> kubernetes.client.Configuration:
    """In-cluster credentials when running in a pod, otherwise the current kubeconfig.

    Raises ``kubernetes.config.ConfigException`` when neither is available.
    """
    configuration = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=configuration)
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(client_configuration=configuration)
    configuration.retries = RETRIES
    return configuration


def load_api_client() -> kubernetes.client.ApiClient:
    """The ``kubernetes`` client over :func:`load_configuration` (for the watches)."""
    return kubernetes.client.ApiClient(load_configuration())


class Credentials:
    """The headers the ``kubernetes`` client would authenticate with. Asking its configuration
    runs its refresh hook, which may read the service account's token file or run a kubeconfig
    plugin (``exec``), so it is asked on a thread of its own, by one caller at a time, once the
    last answer is :data:`CREDENTIALS_MAX_AGE_SECONDS` old (``clock``, seconds), or again at
    the next call after it failed; callers meanwhile share the answer. :meth:`close` ends the
    thread."""

    def __init__(
        self, configuration: kubernetes.client.Configuration, clock: Callable[[], float]
    ) -> None:
        self._configuration = configuration
        self._clock = clock
        self._headers: dict[str, str] = {}
        self._asked_at = -math.inf
        self._asking: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kube-credentials")

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)

    async def headers(self, timeout_seconds: float) -> dict[str, str]:
        """A copy of the current headers, asking for them first if they are too old (waiting at
        most ``timeout_seconds``). Raises what the refresh hook raised (a plugin that failed, a
        token file that cannot be read), or ``TimeoutError``."""
        if self._clock() - self._asked_at >= CREDENTIALS_MAX_AGE_SECONDS:
            if self._asking is None:
                self._asking = asyncio.create_task(self._ask())
            async with asyncio.timeout(timeout_seconds):
                await asyncio.shield(self._asking)
        return dict(self._headers)

    async def _ask(self) -> None:
        try:
            loop = asyncio.get_running_loop()
            self._headers = await loop.run_in_executor(
                self._thread, auth_headers, self._configuration
            )
            self._asked_at = self._clock()
        finally:
            self._asking = None


def auth_headers(configuration: kubernetes.client.Configuration) -> dict[str, str]:
    """What ``configuration.auth_settings()`` puts in headers (it runs the refresh hook)."""
    settings = cast(dict[str, dict[str, Any]], configuration.auth_settings())
    return {
        setting["key"]: setting["value"]
        for setting in settings.values()
        if setting["in"] == "header" and setting["value"]
    }


def tls_context(configuration: kubernetes.client.Configuration) -> ssl.SSLContext:
    """The TLS the ``kubernetes`` client would use: its CA (or the system's), its client
    certificate, and its choice not to verify (``insecure-skip-tls-verify``)."""
    context = ssl.create_default_context(
        cafile=configuration.ssl_ca_cert, cadata=configuration.ca_cert_data
    )
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif configuration.assert_hostname is False:
        context.check_hostname = False
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    return context


def proxy_of(configuration: kubernetes.client.Configuration) -> str | None:
    """The kubeconfig's ``proxy-url``, unless its ``no_proxy`` exempts the server."""
    proxy: str | None = configuration.proxy
    if not proxy or should_bypass_proxies(configuration.host, configuration.no_proxy or ""):
        return None
    return proxy
