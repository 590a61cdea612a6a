"""The Kubernetes API, for the operator and the command-line tools alike.

The ``kubernetes`` package is synchronous, so calls run on a small dedicated thread pool (never
on an event loop) and return plain dicts. Cancelling a call's caller drops a call still queued,
but one already running on a thread runs to its end and its request reaches the API server:
:meth:`Kube.settled` waits for those. Every failure becomes a
:class:`~maskinporten_operator.ports.KubeError`: the API server's answers with their status, and
a server that cannot be reached (refused or reset connections, timeouts) with status 0. Messages
carry the API server's status message and never a request or response body.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

import kubernetes
import urllib3

from maskinporten_operator.api import FIELD_MANAGER, GROUP, KIND, PLURAL, VERSION, is_watched
from maskinporten_operator.ports import KubeError

UNREACHABLE = 0
"""The :attr:`KubeError.status` of a call that got no answer from the API server."""


RETRIES = urllib3.Retry(total=2, connect=0, read=2, redirect=0, allowed_methods={"GET"})
"""A read (``GET``, watches too) is sent again at once, at most twice, when the connection drops
under it (a kept-alive connection the API server closed just then); nothing else is retried.
urllib3's default would resend a write after a connection error (a ``PUT`` even after it was
sent) without asking the :class:`WriteFence` again, each try with the fence's whole timeout."""


def load_api_client(*, pool_size: int | None = None) -> kubernetes.client.ApiClient:
    """In-cluster credentials when running in a pod, otherwise the current kubeconfig.

    ``pool_size`` sets the HTTP connection pool before the client builds it (set afterwards, it
    is ignored and connections beyond the default 4 are discarded after each call).
    The client never retries a write (see :data:`RETRIES`). A failed call is a
    :class:`KubeError` with status 0; its caller tries again, through the fence.
    Raises ``kubernetes.config.ConfigException`` when neither is available.
    """
    configuration = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=configuration)
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(client_configuration=configuration)
    configuration.retries = RETRIES
    if pool_size is not None:
        configuration.connection_pool_maxsize = pool_size
    return kubernetes.client.ApiClient(configuration)


@dataclass(frozen=True)
class WriteFence:
    """Writes only while this replica leads, each bounded by ``timeout_seconds``.

    Why both: a loop cancelled when leadership ends does not stop a request already running on
    a thread (the ``kubernetes`` client is synchronous), nor one queued for a free thread. So
    each write asks ``may_write()`` on its thread just before it is sent, at a time ``t`` no
    later than the renew deadline (last renewal sent + renew deadline), and its HTTP timeout is
    the election's write margin, ``lease duration - renew deadline``: the client has its answer
    or gives up by ``t + margin``, no later than the earliest moment another replica can take
    the Lease (last renewal sent + lease duration). What remains is a request the API server
    received but answers after the client gave up: a Secret replace carries the
    ``resourceVersion`` read, so over the new leader's write it conflicts rather than lands; a
    status patch would only restate an earlier status, which the new leader rewrites on its
    first attempt.
    """

    may_write: Callable[[], bool]
    timeout_seconds: float


class Kube:
    """:class:`~maskinporten_operator.ports.KubernetesApi` over the ``kubernetes`` package;
    writes go through ``fence`` when one is set (:class:`WriteFence`)."""

    def __init__(self, api_client: kubernetes.client.ApiClient, *, concurrency: int) -> None:
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._custom = kubernetes.client.CustomObjectsApi(api_client)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="kube-api")
        self._leases = kubernetes.client.CoordinationV1Api(api_client)
        self.fence: WriteFence | None = None
        self._calls: set[Future[Any]] = set()
        """Calls queued or running (a finished call removes itself, on its thread)."""

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def settled(self, seconds: float) -> int:
        """Wait at most ``seconds`` until every call started so far has ended (also
        those whose callers were cancelled); how many had not by then."""
        calls = [asyncio.wrap_future(call) for call in list(self._calls)]
        if not calls:
            return 0
        return len((await asyncio.wait(calls, timeout=seconds))[1])

    async def _call(
        self, action: str, subject: str, call: Callable[[], Any], *, parse: bool = True
    ) -> Any:
        """``call()`` on the pool: the answer's JSON body as a dict (None when it is empty, or
        when not ``parse``: a caller that does not read the answer saves decoding it)."""
        future = self._pool.submit(call)
        self._calls.add(future)
        future.add_done_callback(self._calls.discard)
        try:
            response = await asyncio.wrap_future(future)
        except kubernetes.client.ApiException as error:
            raise KubeError(
                action=action,
                subject=subject,
                status=error.status or UNREACHABLE,
                detail=_status_message(error),
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise KubeError(
                action=action,
                subject=subject,
                status=UNREACHABLE,
                detail=f"cannot reach the Kubernetes API ({type(error).__name__})",
            ) from None
        data = response.data  # read in any case: the connection goes back to the pool
        return json.loads(data) if data and parse else None

    async def _write(
        self,
        action: str,
        subject: str,
        call: Callable[[float | None], Any],
        *,
        parse: bool = True,
    ) -> Any:
        """``call(timeout)``, on the pool; with a fence, only if it allows the write when the
        request is about to be sent (a KubeError with status 0 if not). ``parse`` as for
        :meth:`_call`."""
        fence = self.fence

        def send() -> Any:
            if fence is None:
                return call(None)
            if not fence.may_write():
                raise KubeError(
                    action=action,
                    subject=subject,
                    status=UNREACHABLE,
                    detail="not sent: this replica is not the leader (see leader election)",
                )
            return call(fence.timeout_seconds)

        return await self._call(action, subject, send, parse=parse)

    async def _get(self, subject: str, call: Callable[[], Any]) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await self._call("reading", subject, call)
        except KubeError as error:
            if error.status == 404:
                return None
            raise
        return found

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._get(
            f"Secret {namespace}/{name}",
            lambda: self._core.read_namespaced_secret(name, namespace, _preload_content=False),
        )

    async def get_watched_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        secret = await self.get_secret(namespace, name)
        return secret if secret is not None and is_watched(secret) else None

    async def get_client(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The MaskinportenClient, or None when it does not exist."""
        return await self._get(
            f"{KIND} {namespace}/{name}",
            lambda: self._custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, _preload_content=False
            ),
        )

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["name"]
        created: dict[str, Any] = await self._write(
            "creating",
            f"Secret {namespace}/{name}",
            lambda timeout: self._core.create_namespaced_secret(
                namespace, cast(Any, body), _preload_content=False, _request_timeout=timeout
            ),
        )
        return created

    async def replace_secret(
        self, namespace: str, body: dict[str, Any], resource_version: str
    ) -> dict[str, Any]:
        name = body["metadata"]["name"]
        versioned = {**body, "metadata": {**body["metadata"], "resourceVersion": resource_version}}
        replaced: dict[str, Any] = await self._write(
            "updating",
            f"Secret {namespace}/{name}",
            lambda timeout: self._core.replace_namespaced_secret(
                name,
                namespace,
                cast(Any, versioned),
                _preload_content=False,
                _request_timeout=timeout,
            ),
        )
        return replaced

    async def annotate_pod(self, namespace: str, name: str, annotations: Mapping[str, str]) -> None:
        """A JSON merge patch of the pod's annotations, under :data:`FIELD_MANAGER`."""
        await self._write(
            "annotating",
            f"Pod {namespace}/{name}",
            lambda timeout: self._core.patch_namespaced_pod(
                name,
                namespace,
                {"metadata": {"annotations": dict(annotations)}},
                field_manager=FIELD_MANAGER,
                _content_type="application/merge-patch+json",
                _preload_content=False,
                _request_timeout=timeout,
            ),
            parse=False,
        )

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        await self._write(
            "updating status of",
            f"{PLURAL}/{name} in {namespace}",
            lambda timeout: self._custom.patch_namespaced_custom_object_status(
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                name,
                {"status": status},
                _preload_content=False,
                _request_timeout=timeout,
            ),
            parse=False,
        )

    async def read_lease(
        self, namespace: str, name: str, *, request_timeout: float
    ) -> dict[str, Any] | None:
        """The Lease (``coordination.k8s.io/v1``), or None when it does not exist."""
        return await self._get(
            f"Lease {namespace}/{name}",
            lambda: self._leases.read_namespaced_lease(
                name, namespace, _preload_content=False, _request_timeout=request_timeout
            ),
        )

    async def create_lease(
        self, namespace: str, body: dict[str, Any], *, request_timeout: float
    ) -> dict[str, Any]:
        """Raises :class:`KubeError` with status 409 when the Lease exists."""
        created: dict[str, Any] = await self._call(
            "creating",
            f"Lease {namespace}/{body['metadata']['name']}",
            lambda: self._leases.create_namespaced_lease(
                namespace, cast(Any, body), _preload_content=False, _request_timeout=request_timeout
            ),
        )
        return created

    async def replace_lease(
        self, namespace: str, body: dict[str, Any], *, request_timeout: float
    ) -> dict[str, Any]:
        """Raises :class:`KubeError` with status 409 when the Lease's ``resourceVersion`` is no
        longer the body's."""
        name = body["metadata"]["name"]
        replaced: dict[str, Any] = await self._call(
            "updating",
            f"Lease {namespace}/{name}",
            lambda: self._leases.replace_namespaced_lease(
                name,
                namespace,
                cast(Any, body),
                _preload_content=False,
                _request_timeout=request_timeout,
            ),
        )
        return replaced


def _status_message(error: kubernetes.client.ApiException) -> str:
    try:
        message = json.loads(error.body or "{}").get("message")
    except ValueError:
        message = None
    return f"HTTP {error.status} {error.reason}" + (f": {message}" if message else "")
