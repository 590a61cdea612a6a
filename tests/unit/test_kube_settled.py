"""A Kubernetes API call whose caller was cancelled still runs to its end on its thread; the
supervisor waits for it (``Kube.settled``) before saying the loops have stopped."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import kubernetes
import pytest

from maskinporten_operator.adapters.kube import Kube

pytestmark = pytest.mark.asyncio


class BlockingSecrets:
    """A Secret read that blocks its thread until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def read_namespaced_secret(self, name: str, namespace: str, **_: Any) -> Any:
        self.started.set()
        self.release.wait(timeout=60)
        return SimpleNamespace(data=b"{}")


async def cancelled_read() -> tuple[Kube, BlockingSecrets]:
    """A Kube whose only call is running on its thread, its caller cancelled."""
    kube = Kube(kubernetes.client.ApiClient(), concurrency=1)
    secrets = BlockingSecrets()
    kube._core = secrets  # type: ignore[assignment]
    caller = asyncio.create_task(kube.get_secret("team", "weather"))
    await asyncio.to_thread(secrets.started.wait, 60)
    caller.cancel()
    await asyncio.gather(caller, return_exceptions=True)
    return kube, secrets


async def test_a_call_whose_caller_was_cancelled_keeps_running() -> None:
    kube, secrets = await cancelled_read()
    try:
        assert await kube.settled(0) == 1
    finally:
        secrets.release.set()
        kube.close()


async def test_settled_returns_once_the_running_call_has_ended() -> None:
    kube, secrets = await cancelled_read()
    secrets.release.set()

    assert await kube.settled(60) == 0
    kube.close()


async def test_nothing_running_is_settled_at_once() -> None:
    kube = Kube(kubernetes.client.ApiClient(), concurrency=1)

    assert await kube.settled(0) == 0
    kube.close()
