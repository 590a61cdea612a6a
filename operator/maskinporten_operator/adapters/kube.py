"""The Kubernetes API, for the operator and the command-line tools alike.

The ``kubernetes`` package is synchronous, so calls run on a small dedicated thread pool (never
on an event loop) and return plain dicts. Every failure becomes a
:class:`~maskinporten_operator.ports.KubeError`: the API server's answers with their status, and
a server that cannot be reached (refused or reset connections, timeouts) with status 0. Messages
carry the API server's status message and never a request or response body.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import kubernetes
import urllib3

from maskinporten_operator.api import FIELD_MANAGER, GROUP, KIND, PLURAL, VERSION, is_watched
from maskinporten_operator.ports import KubeError

UNREACHABLE = 0
"""The :attr:`KubeError.status` of a call that got no answer from the API server."""


def load_api_client(*, pool_size: int | None = None) -> kubernetes.client.ApiClient:
    """In-cluster credentials when running in a pod, otherwise the current kubeconfig.

    ``pool_size`` sets the HTTP connection pool before the client builds it (set afterwards, it
    is ignored and connections beyond the default 4 are discarded after each call).
    Raises ``kubernetes.config.ConfigException`` when neither is available.
    """
    configuration = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=configuration)
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(client_configuration=configuration)
    if pool_size is not None:
        configuration.connection_pool_maxsize = pool_size
    return kubernetes.client.ApiClient(configuration)


class Kube:
    """:class:`~maskinporten_operator.ports.KubernetesApi` over the ``kubernetes`` package."""

    def __init__(self, api_client: kubernetes.client.ApiClient, *, concurrency: int) -> None:
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._custom = kubernetes.client.CustomObjectsApi(api_client)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="kube-api")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _call(self, action: str, subject: str, call: Callable[[], Any]) -> Any:
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self._pool, call)
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
        return json.loads(response.data) if response.data else None

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
        created: dict[str, Any] = await self._call(
            "creating",
            f"Secret {namespace}/{name}",
            lambda: self._core.create_namespaced_secret(
                namespace, cast(Any, body), _preload_content=False
            ),
        )
        return created

    async def replace_secret(
        self, namespace: str, body: dict[str, Any], resource_version: str
    ) -> dict[str, Any]:
        name = body["metadata"]["name"]
        versioned = {**body, "metadata": {**body["metadata"], "resourceVersion": resource_version}}
        replaced: dict[str, Any] = await self._call(
            "updating",
            f"Secret {namespace}/{name}",
            lambda: self._core.replace_namespaced_secret(
                name, namespace, cast(Any, versioned), _preload_content=False
            ),
        )
        return replaced

    async def annotate_pod(self, namespace: str, name: str, annotations: Mapping[str, str]) -> None:
        """A JSON merge patch of the pod's annotations, under :data:`FIELD_MANAGER`."""
        await self._call(
            "annotating",
            f"Pod {namespace}/{name}",
            lambda: self._core.patch_namespaced_pod(
                name,
                namespace,
                {"metadata": {"annotations": dict(annotations)}},
                field_manager=FIELD_MANAGER,
                _content_type="application/merge-patch+json",
                _preload_content=False,
            ),
        )

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        await self._call(
            "updating status of",
            f"{PLURAL}/{name} in {namespace}",
            lambda: self._custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, PLURAL, name, {"status": status}, _preload_content=False
            ),
        )


def _status_message(error: kubernetes.client.ApiException) -> str:
    try:
        message = json.loads(error.body or "{}").get("message")
    except ValueError:
        message = None
    return f"HTTP {error.status} {error.reason}" + (f": {message}" if message else "")
