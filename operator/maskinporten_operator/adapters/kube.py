"""The Kubernetes API, for the operator and the command-line tools alike.

Calls are sent with aiohttp on the event loop: kopf's own HTTP client (it watches and posts
Events with it), so it adds no package to the image. A write costs about 0.3 ms of CPU there,
against 1.3 ms through the synchronous ``kubernetes`` client on a thread pool, and 2.5 ms through
httpx with as many connections (1,000 Secret creates, 16 at a time). The ``kubernetes`` package
still reads the configuration (in-cluster or the kubeconfig: server, TLS, credentials, proxy)
and refreshes expiring credentials; every request asks it for them.

Cancelling a call's caller cancels its request. Every failure becomes a
:class:`~maskinporten_operator.ports.KubeError`: the API server's answers with their status, and
a server that cannot be reached (refused or reset connections, timeouts) with status 0. Messages
carry the API server's status message and never a request or response body.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import kubernetes
import urllib3
from kubernetes.client.rest import should_bypass_proxies

from maskinporten_operator.api import FIELD_MANAGER, GROUP, KIND, PLURAL, VERSION, is_watched
from maskinporten_operator.ports import KubeError

UNREACHABLE = 0
"""The :attr:`KubeError.status` of a call that got no answer from the API server."""

DEFAULT_TIMEOUT_SECONDS = 60.0
"""A call given no timeout of its own (reads, and writes without a fence) gives up after this
long, connecting included; its caller tries again."""

RETRIES = urllib3.Retry(total=2, connect=0, read=2, redirect=0, allowed_methods={"GET"})
"""For the watches, which use the ``kubernetes`` client: a list or watch request is sent again
at once, at most twice, when the connection drops under it (a kept-alive connection the API
server closed just then)."""


def load_api_client() -> kubernetes.client.ApiClient:
    """In-cluster credentials when running in a pod, otherwise the current kubeconfig.

    Raises ``kubernetes.config.ConfigException`` when neither is available.
    """
    configuration = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=configuration)
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(client_configuration=configuration)
    configuration.retries = RETRIES
    return kubernetes.client.ApiClient(configuration)


@dataclass(frozen=True)
class WriteFence:
    """Writes only while this replica leads, each bounded by ``timeout_seconds``.

    Why both: a loop cancelled when leadership ends stops its request, but a request already
    sent may still be on its way or being answered. So each write asks ``may_write()`` just
    before it is sent (after waiting for a free slot), at a time ``t`` no later than the renew
    deadline (last renewal sent + renew deadline), and its whole timeout, connecting included, is
    the election's write margin, ``lease duration - renew deadline``: the client has its answer
    or gives up by ``t + margin``, no later than the earliest moment another replica can take
    the Lease (last renewal sent + lease duration). What remains is a request the API server
    received but answers after the client gave up: a Secret replace carries the
    ``resourceVersion`` read, so over the new leader's write it conflicts rather than lands; a
    status patch would only restate an earlier status, which the new leader rewrites on its
    first attempt. (aiohttp sends a ``PUT`` once more when a kept-alive connection drops under
    it, RFC 9112 section 9.3.1, inside the same timeout; the ``resourceVersion`` makes the
    second one conflict if the first landed.)
    """

    may_write: Callable[[], bool]
    timeout_seconds: float


@dataclass(frozen=True)
class _Request:
    """One call: ``action`` and ``subject`` name it in errors (``"creating"``, ``"Secret a/b"``)."""

    method: str
    path: str
    action: str
    subject: str
    body: Any = None
    content_type: str = "application/json"
    query: Mapping[str, str] | None = None
    timeout_seconds: float | None = None
    write: bool = False
    parse: bool = True

    def error(self, status: int, detail: str) -> KubeError:
        return KubeError(action=self.action, subject=self.subject, status=status, detail=detail)


class Kube:
    """:class:`~maskinporten_operator.ports.KubernetesApi` over aiohttp, configured by
    ``api_client``'s configuration; at most ``concurrency`` calls in flight, the others wait
    for a slot. Writes go through ``fence`` when one is set (:class:`WriteFence`). The HTTP
    session is made on first use, on the running loop; :meth:`aclose` closes it."""

    def __init__(self, api_client: kubernetes.client.ApiClient, *, concurrency: int) -> None:
        self._configuration = api_client.configuration
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None
        self.fence: WriteFence | None = None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._concurrency, ssl=tls_context(self._configuration)
                ),
                headers={"Accept": "application/json", "User-Agent": "maskinporten-operator"},
                proxy=proxy_of(self._configuration),
                timeout=aiohttp.ClientTimeout(total=DEFAULT_TIMEOUT_SECONDS),
            )
        return self._session

    async def _call(self, request: _Request) -> Any:
        """``request``'s answer, its JSON body as a dict (None when it is empty, or when not
        ``request.parse``: a caller that does not read the answer saves decoding it). A write
        goes through the fence, when one is set, just before it is sent (a KubeError with status
        0 if it is refused), with the fence's timeout."""
        async with self._slots:
            timeout_seconds = request.timeout_seconds
            if request.write and self.fence is not None:
                if not self.fence.may_write():
                    raise request.error(
                        UNREACHABLE,
                        "not sent: this replica is not the leader (see leader election)",
                    )
                timeout_seconds = self.fence.timeout_seconds
            status, reason, data = await self._send(request, timeout_seconds)
        if status >= 400:
            raise request.error(status, _status_message(status, reason, data))
        return json.loads(data) if data and request.parse else None

    async def _send(
        self, request: _Request, timeout_seconds: float | None
    ) -> tuple[int, str | None, bytes]:
        headers = self._credentials()
        payload = None
        if request.body is not None:
            headers["Content-Type"] = request.content_type
            payload = json.dumps(request.body, separators=(",", ":")).encode()
        try:
            async with self._http().request(
                request.method,
                self._configuration.host + request.path,
                data=payload,
                headers=headers,
                params=request.query,
                proxy_headers=self._configuration.proxy_headers,
                timeout=aiohttp.ClientTimeout(total=timeout_seconds) if timeout_seconds else None,
                server_hostname=self._configuration.tls_server_name or None,
            ) as response:
                return response.status, response.reason, await response.read()
        except (aiohttp.ClientError, OSError) as error:  # timeouts are OSErrors too
            raise request.error(
                UNREACHABLE, f"cannot reach the Kubernetes API ({type(error).__name__})"
            ) from None

    def _credentials(self) -> dict[str, str]:
        """The headers the ``kubernetes`` client would authenticate with, asked for each call:
        its refresh hook renews a service account token or a kubeconfig plugin's."""
        return {
            setting["key"]: setting["value"]
            for setting in self._configuration.auth_settings().values()
            if setting["in"] == "header" and setting["value"]
        }

    async def _get(
        self, path: str, subject: str, timeout_seconds: float | None = None
    ) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await self._call(
                _Request("GET", path, "reading", subject, timeout_seconds=timeout_seconds)
            )
        except KubeError as error:
            if error.status == 404:
                return None
            raise
        return found

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._get(_secret_path(namespace, name), f"Secret {namespace}/{name}")

    async def get_watched_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        secret = await self.get_secret(namespace, name)
        return secret if secret is not None and is_watched(secret) else None

    async def get_client(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The MaskinportenClient, or None when it does not exist."""
        return await self._get(_client_path(namespace, name), f"{KIND} {namespace}/{name}")

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["name"]
        created: dict[str, Any] = await self._call(
            _Request(
                "POST",
                _secret_path(namespace),
                "creating",
                f"Secret {namespace}/{name}",
                body=body,
                write=True,
            )
        )
        return created

    async def replace_secret(
        self, namespace: str, body: dict[str, Any], resource_version: str
    ) -> dict[str, Any]:
        name = body["metadata"]["name"]
        versioned = {**body, "metadata": {**body["metadata"], "resourceVersion": resource_version}}
        replaced: dict[str, Any] = await self._call(
            _Request(
                "PUT",
                _secret_path(namespace, name),
                "updating",
                f"Secret {namespace}/{name}",
                body=versioned,
                write=True,
            )
        )
        return replaced

    async def annotate_pod(self, namespace: str, name: str, annotations: Mapping[str, str]) -> None:
        """A JSON merge patch of the pod's annotations, under :data:`FIELD_MANAGER`."""
        await self._call(
            _Request(
                "PATCH",
                f"/api/v1/namespaces/{namespace}/pods/{name}",
                "annotating",
                f"Pod {namespace}/{name}",
                body={"metadata": {"annotations": dict(annotations)}},
                content_type="application/merge-patch+json",
                query={"fieldManager": FIELD_MANAGER},
                write=True,
                parse=False,
            )
        )

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        await self._call(
            _Request(
                "PATCH",
                _client_path(namespace, name) + "/status",
                "updating status of",
                f"{PLURAL}/{name} in {namespace}",
                body={"status": status},
                content_type="application/merge-patch+json",
                write=True,
                parse=False,
            )
        )

    async def read_lease(
        self, namespace: str, name: str, *, request_timeout: float
    ) -> dict[str, Any] | None:
        """The Lease (``coordination.k8s.io/v1``), or None when it does not exist."""
        return await self._get(
            _lease_path(namespace, name),
            f"Lease {namespace}/{name}",
            timeout_seconds=request_timeout,
        )

    async def create_lease(
        self, namespace: str, body: dict[str, Any], *, request_timeout: float
    ) -> dict[str, Any]:
        """Raises :class:`KubeError` with status 409 when the Lease exists."""
        created: dict[str, Any] = await self._call(
            _Request(
                "POST",
                _lease_path(namespace),
                "creating",
                f"Lease {namespace}/{body['metadata']['name']}",
                body=body,
                timeout_seconds=request_timeout,
            )
        )
        return created

    async def replace_lease(
        self, namespace: str, body: dict[str, Any], *, request_timeout: float
    ) -> dict[str, Any]:
        """Raises :class:`KubeError` with status 409 when the Lease's ``resourceVersion`` is no
        longer the body's."""
        name = body["metadata"]["name"]
        replaced: dict[str, Any] = await self._call(
            _Request(
                "PUT",
                _lease_path(namespace, name),
                "updating",
                f"Lease {namespace}/{name}",
                body=body,
                timeout_seconds=request_timeout,
            )
        )
        return replaced


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
    """The kubeconfig's ``proxy-url``, unless its ``no_proxy`` exempts the server. Raises
    ``kubernetes.config.ConfigException`` for a SOCKS proxy, which aiohttp cannot use."""
    proxy: str | None = configuration.proxy
    if not proxy or should_bypass_proxies(configuration.host, configuration.no_proxy or ""):
        return None
    if not proxy.lower().startswith(("http://", "https://")):
        raise kubernetes.config.ConfigException(
            f"proxy-url {proxy.split('://')[0]}://…: only HTTP(S) proxies are supported"
        )
    return proxy


def _secret_path(namespace: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{namespace}/secrets" + (f"/{name}" if name else "")


def _client_path(namespace: str, name: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}"


def _lease_path(namespace: str, name: str = "") -> str:
    return f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases" + (
        f"/{name}" if name else ""
    )


def _status_message(status: int, reason: str | None, body: bytes) -> str:
    try:
        message = json.loads(body or b"{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return f"HTTP {status} {reason or ''}".rstrip() + (f": {message}" if message else "")
