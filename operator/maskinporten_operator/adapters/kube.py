"""The few Kubernetes API calls the operator makes, as coroutines.

The ``kubernetes`` package is synchronous, so calls run on a small dedicated thread pool (never
on kopf's event loop) and return plain dicts. Errors become :class:`KubeError`, whose message
carries the API server's status message and never a request or response body.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

import kubernetes

from maskinporten_operator.api import GROUP, PLURAL, VERSION

T = TypeVar("T")


class KubeError(Exception):
    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def load_api_client() -> kubernetes.client.ApiClient:
    """In-cluster credentials when running in a pod, otherwise the current kubeconfig."""
    try:
        kubernetes.config.load_incluster_config()
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()
    return kubernetes.client.ApiClient()


class Kube:
    def __init__(self, api_client: kubernetes.client.ApiClient, *, concurrency: int) -> None:
        api_client.configuration.connection_pool_maxsize = concurrency
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._custom = kubernetes.client.CustomObjectsApi(api_client)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="kube-api")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _call(self, what: str, call: Callable[[], Any]) -> Any:
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self._pool, call)
        except kubernetes.client.ApiException as error:
            raise KubeError(f"{what}: {_status_message(error)}", status=error.status or 0) from None
        return json.loads(response.data) if response.data else None

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            secret: dict[str, Any] = await self._call(
                f"reading Secret {namespace}/{name}",
                lambda: self._core.read_namespaced_secret(name, namespace, _preload_content=False),
            )
        except KubeError as error:
            if error.status == 404:
                return None
            raise
        return secret

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> None:
        name = body["metadata"]["name"]
        await self._call(
            f"creating Secret {namespace}/{name}",
            lambda: self._core.create_namespaced_secret(
                namespace, cast(Any, body), _preload_content=False
            ),
        )

    async def replace_secret(
        self, namespace: str, body: dict[str, Any], resource_version: str
    ) -> None:
        name = body["metadata"]["name"]
        versioned = {**body, "metadata": {**body["metadata"], "resourceVersion": resource_version}}
        await self._call(
            f"updating Secret {namespace}/{name}",
            lambda: self._core.replace_namespaced_secret(
                name, namespace, cast(Any, versioned), _preload_content=False
            ),
        )

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        await self._call(
            f"updating status of {PLURAL}/{name} in {namespace}",
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
