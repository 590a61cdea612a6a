"""The operator's Kubernetes client sends a write once: after a connection error it is not
resent behind the write fence's back (urllib3 would retry a ``PUT`` three times). A read is sent
again when its connection drops."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

from maskinporten_operator.adapters.kube import UNREACHABLE, Kube, load_api_client
from maskinporten_operator.ports import KubeError

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "weather-token"}}


class HangUp(socketserver.BaseRequestHandler):
    """Reads a request's head, counts it, and closes the connection without an answer."""

    def handle(self) -> None:
        connection: socket.socket = self.request
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = connection.recv(65536)
            if not chunk:
                return
            received += chunk
        server: HangingUpServer = self.server  # type: ignore[assignment]
        server.requests.append(received.split(b"\r\n", 1)[0].decode())


class HangingUpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), HangUp)
        self.requests: list[str] = []


@pytest.fixture
def hanging_up_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HangingUpServer]:
    """An API server that hangs up on every request, in the kubeconfig the client loads."""
    server = HangingUpServer()
    thread = threading.Thread(target=server.serve_forever, name="hanging-up API", daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
        f"clusters: [{{name: test, cluster: {{server: 'http://127.0.0.1:{server.server_address[1]}'}}}}]\n"
        "users: [{name: test, user: {token: not-a-secret}}]\n"
        "contexts: [{name: test, context: {cluster: test, user: test}}]\n"
    )
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setattr(
        kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig)
    )
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


async def test_a_write_after_a_connection_error_is_not_resent(
    hanging_up_api: HangingUpServer,
) -> None:
    kube = Kube(load_api_client(), concurrency=1)
    try:
        with pytest.raises(KubeError) as raised:
            await kube.replace_secret("team", SECRET, resource_version="7")
    finally:
        kube.close()

    assert raised.value.status == UNREACHABLE
    assert hanging_up_api.requests == ["PUT /api/v1/namespaces/team/secrets/weather-token HTTP/1.1"]


async def test_a_read_whose_connection_drops_is_sent_again_twice(
    hanging_up_api: HangingUpServer,
) -> None:
    kube = Kube(load_api_client(), concurrency=1)
    try:
        with pytest.raises(KubeError) as raised:
            await kube.get_secret("team", "weather-token")
    finally:
        kube.close()

    assert raised.value.status == UNREACHABLE
    assert (
        hanging_up_api.requests
        == ["GET /api/v1/namespaces/team/secrets/weather-token HTTP/1.1"] * 3
    )
