"""The Kubernetes API, for the operator and the command-line tools alike.

Calls are sent with aiohttp on the event loop: kopf's own HTTP client (it watches and posts
Events with it), so it adds no package to the image, and a call costs a fraction of the CPU it
cost through the synchronous ``kubernetes`` client on a thread pool. The ``kubernetes`` package
still reads the configuration (in-cluster or the kubeconfig: server, TLS, credentials, proxy)
and renews expiring credentials (:mod:`.kube_connection`).

A call is cancelled with its caller; a write cut off that way may still land until its timeout,
and :meth:`Kube.settled` waits for that. Every failure becomes a
:class:`~maskinporten_operator.ports.KubeError`: the API server's answers with their status, and
a server that cannot be reached (refused or reset connections, timeouts) with status 0. Messages
carry the API server's status message and never a request or response body.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import kubernetes

from maskinporten_operator.adapters.kube_connection import Credentials, proxy_of, tls_context
from maskinporten_operator.api import FIELD_MANAGER, GROUP, KIND, PLURAL, VERSION, is_watched
from maskinporten_operator.ports import KubeError

UNREACHABLE = 0
"""The :attr:`KubeError.status` of a call that got no answer from the API server."""

DEFAULT_TIMEOUT_SECONDS = 60.0
"""A call given no timeout of its own (reads, and writes without a fence) gives up after this
long, connecting included; its caller tries again."""


@dataclass(frozen=True)
class WriteFence:
    """Writes only while this replica leads, each bounded by ``timeout_seconds``.

    Why both: a write cut off when its loop is cancelled, as leadership ends, may still reach
    the API server (see :meth:`Kube.settled`). So each write asks ``may_write()`` just before
    it is sent (once it has a slot), at a time ``t`` no later than the renew deadline (last
    renewal sent + renew deadline), and its whole timeout from ``t``, waiting for a connection
    and connecting included, is the election's write margin, ``lease duration - renew
    deadline``: the client has its answer or gives up by ``t + margin``, no later than the
    earliest moment another replica can take the Lease (last renewal sent + lease duration); a
    graceful stop waits for the writes it cut off to reach their timeouts before it releases
    the Lease. What remains is a request the API server received but answers after the client
    gave up: a Secret replace carries the ``resourceVersion`` read, so over the new leader's
    write it conflicts rather than lands (so does aiohttp's one resend of a ``PUT`` whose
    connection closed before the answer); a status patch would only restate an earlier status,
    which the new leader rewrites on its first attempt.
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


_Answer = tuple[int, str | None, bytes]
"""An HTTP answer: status, reason phrase, body."""


class Kube:
    """:class:`~maskinporten_operator.ports.KubernetesApi` over aiohttp, as ``configuration``
    (:func:`~.kube_connection.load_configuration`) says; at most ``concurrency`` calls in
    flight, the others wait for a slot. Writes go through ``fence`` when one is set
    (:class:`WriteFence`). The HTTP session is made on first use, on the running loop;
    :meth:`aclose` closes it, and calls not sent by then are refused. ``clock`` (seconds,
    monotonic) times the calls and ages the credentials."""

    def __init__(
        self,
        configuration: kubernetes.client.Configuration,
        *,
        concurrency: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._configuration = configuration
        self._clock = clock
        self._credentials = Credentials(self._configuration, clock)
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._cut_off: list[float] = []
        """The deadlines (``clock``) of writes whose callers were cancelled while they
        were being sent: such a write may still land until then."""
        self.fence: WriteFence | None = None

    async def aclose(self) -> None:
        self._closed = True
        self._credentials.close()
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def settled(self, seconds: float) -> int:
        """Wait, at most ``seconds``, until no write whose caller was cancelled while it was
        being sent may still land: until the latest one's deadline (its timeout after the
        fence was asked). How many may still land after the wait."""
        self._cut_off = [deadline for deadline in self._cut_off if deadline > self._clock()]
        if self._cut_off:
            await asyncio.sleep(min(max(self._cut_off) - self._clock(), seconds))
        return sum(1 for deadline in self._cut_off if deadline > self._clock())

    def _http(self, request: _Request) -> aiohttp.ClientSession:
        """The session: at most as many connections as slots (a call whose slot was just freed
        may wait a moment for the connection its predecessor is handing back, within its
        timeout, rather than open another: a TLS handshake costs more than a hundred calls)."""
        if self._closed:
            raise request.error(UNREACHABLE, "not sent: the Kubernetes client is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._concurrency, ssl=tls_context(self._configuration)
                ),
                headers={"Accept": "application/json", "User-Agent": "maskinporten-operator"},
                proxy=proxy_of(self._configuration),
            )
        return self._session

    async def _call(self, request: _Request) -> Any:
        """``request``'s answer, its JSON body as a dict (None when it is empty, or when not
        ``request.parse``: a caller that does not read the answer saves decoding it)."""
        headers = await self._headers(request)
        payload = None
        if request.body is not None:
            headers["Content-Type"] = request.content_type
            payload = json.dumps(request.body, separators=(",", ":")).encode()
        await self._slots.acquire()
        try:
            deadline = self._deadline_or_refusal(request)
        except KubeError:
            self._slots.release()
            raise
        try:
            status, reason, data = await self._send(request, headers, payload, deadline)
        except asyncio.CancelledError:
            if request.write:  # sent, perhaps: it may land until its deadline
                self._cut_off.append(deadline)
            raise
        finally:
            self._slots.release()
        if not 200 <= status < 300:  # redirects are not followed: errors too
            raise request.error(status, _status_message(status, reason, data))
        try:
            return json.loads(data) if data and request.parse else None
        except ValueError:
            raise request.error(status, "the answer is not JSON") from None

    async def _headers(self, request: _Request) -> dict[str, str]:
        try:
            return await self._credentials.headers(DEFAULT_TIMEOUT_SECONDS)
        except Exception as error:  # a kubeconfig plugin or a token file that failed, or hung
            raise request.error(
                UNREACHABLE, f"no credentials for the Kubernetes API ({type(error).__name__})"
            ) from None

    def _deadline_or_refusal(self, request: _Request) -> float:
        """When the call gives up (``clock``): a write's timeout is the fence's, counted
        from this moment, when the fence is asked (once the call has its slot, its body
        encoded); a KubeError (status 0) when the fence refuses it."""
        now = self._clock()
        if not request.write or self.fence is None:
            return now + (request.timeout_seconds or DEFAULT_TIMEOUT_SECONDS)
        if not self.fence.may_write():
            raise request.error(
                UNREACHABLE, "not sent: this replica is not the leader (see leader election)"
            )
        return now + self.fence.timeout_seconds

    async def _send(
        self, request: _Request, headers: dict[str, str], payload: bytes | None, deadline: float
    ) -> _Answer:
        """One HTTP exchange, never redirected; the whole of it (connecting, and aiohttp's one
        resend of a GET or PUT whose connection closed before the answer, RFC 9110 section
        9.2.2) ends by ``deadline`` (``clock``), not rounded up."""
        seconds_left = deadline - self._clock()
        if seconds_left <= 0:
            raise request.error(UNREACHABLE, "not sent: its time ran out before it could be")
        try:
            async with self._http(request).request(
                request.method,
                self._configuration.host + request.path,
                data=payload,
                headers=headers,
                params=request.query,
                allow_redirects=False,
                proxy_headers=self._configuration.proxy_headers,
                timeout=aiohttp.ClientTimeout(total=seconds_left, ceil_threshold=math.inf),
                server_hostname=self._configuration.tls_server_name or None,
            ) as response:
                return response.status, response.reason, await response.read()
        except (aiohttp.ClientError, OSError) as error:  # timeouts are OSErrors too
            raise request.error(
                UNREACHABLE, f"cannot reach the Kubernetes API ({type(error).__name__})"
            ) from None

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
