"""How the operator's Kubernetes client sends its requests, against a bare HTTP server on
loopback: what a dropped connection costs (a create or a patch is never sent twice), what the
write fence refuses, what a cancelled caller leaves behind, and the credentials of each call."""

from __future__ import annotations

import asyncio
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import kubernetes
import pytest

from maskinporten_operator.adapters.kube import UNREACHABLE, Kube, WriteFence, proxy_of
from maskinporten_operator.api import GROUP, PLURAL, VERSION
from maskinporten_operator.ports import KubeError

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "weather-token"}}
CREATED = b'{"kind":"Secret","metadata":{"name":"weather-token","resourceVersion":"1"}}'


@dataclass
class Behaviour:
    """What the server does with each request once it has read its head."""

    answer: bool = False
    """Answer 201 with :data:`CREATED`; otherwise hang up (or hold, below)."""
    hold: bool = False
    """Keep the connection open without answering until the client closes it."""
    requests: list[str] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)
    closed_by_client: threading.Event = field(default_factory=threading.Event)


class Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        connection: socket.socket = self.request
        behaviour: Behaviour = self.server.behaviour  # type: ignore[attr-defined]
        while True:
            head = _read_head(connection)
            if head is None:
                return
            lines = head.decode().split("\r\n")
            behaviour.requests.append(lines[0])
            behaviour.received.set()
            behaviour.authorizations += [
                line.split(":", 1)[1].strip()
                for line in lines
                if line.lower().startswith("authorization:")
            ]
            if behaviour.hold:
                if connection.recv(65536) == b"":
                    behaviour.closed_by_client.set()
                return
            if not behaviour.answer:
                return
            connection.sendall(
                b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(CREATED)}\r\n\r\n".encode()
                + CREATED
            )


def _read_head(connection: socket.socket) -> bytes | None:
    """A request's head and its body (by Content-Length), or None when the client closed."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        body += connection.recv(65536)
    return head


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.behaviour = Behaviour()


@pytest.fixture
def server() -> Iterator[Server]:
    server = Server()
    thread = threading.Thread(target=server.serve_forever, name="bare API", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def kube_for(server: Server, bearer: str = "first") -> Kube:
    configuration = kubernetes.client.Configuration()
    configuration.host = f"http://127.0.0.1:{server.server_address[1]}"
    configuration.api_key = {"BearerToken": bearer}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    return Kube(kubernetes.client.ApiClient(configuration), concurrency=1)


async def failed(call: asyncio.Future[object] | object) -> KubeError:
    with pytest.raises(KubeError) as raised:
        await call  # type: ignore[misc]
    return raised.value


async def test_a_create_after_a_connection_error_is_not_resent(server: Server) -> None:
    kube = kube_for(server)

    error = await failed(kube.create_secret("team", SECRET))
    await kube.aclose()

    assert error.status == UNREACHABLE
    assert server.behaviour.requests == ["POST /api/v1/namespaces/team/secrets HTTP/1.1"]


async def test_a_status_patch_after_a_connection_error_is_not_resent(server: Server) -> None:
    kube = kube_for(server)

    error = await failed(kube.patch_status("team", "weather", {"phase": "x"}))
    await kube.aclose()

    assert error.status == UNREACHABLE
    assert server.behaviour.requests == [
        f"PATCH /apis/{GROUP}/{VERSION}/namespaces/team/{PLURAL}/weather/status HTTP/1.1"
    ]


async def test_a_replace_whose_connection_drops_is_sent_once_more(server: Server) -> None:
    kube = kube_for(server)

    error = await failed(kube.replace_secret("team", SECRET, resource_version="7"))
    await kube.aclose()

    assert error.status == UNREACHABLE
    assert (
        server.behaviour.requests
        == ["PUT /api/v1/namespaces/team/secrets/weather-token HTTP/1.1"] * 2
    )


async def test_a_write_the_fence_refuses_is_not_sent(server: Server) -> None:
    kube = kube_for(server)
    kube.fence = WriteFence(may_write=lambda: False, timeout_seconds=5)

    error = await failed(kube.create_secret("team", SECRET))
    await kube.aclose()

    assert error.status == UNREACHABLE
    assert "not the leader" in error.detail
    assert server.behaviour.requests == []


async def test_a_write_the_fence_allows_is_sent_and_answered(server: Server) -> None:
    server.behaviour.answer = True
    kube = kube_for(server)
    kube.fence = WriteFence(may_write=lambda: True, timeout_seconds=5)

    created = await kube.create_secret("team", SECRET)
    await kube.aclose()

    assert created["metadata"]["resourceVersion"] == "1"


async def test_cancelling_a_caller_closes_its_request_s_connection(server: Server) -> None:
    server.behaviour.hold = True
    kube = kube_for(server)
    caller = asyncio.create_task(kube.get_secret("team", "weather-token"))
    assert await asyncio.to_thread(server.behaviour.received.wait, 30)

    caller.cancel()
    await asyncio.gather(caller, return_exceptions=True)

    assert await asyncio.to_thread(server.behaviour.closed_by_client.wait, 30)
    await kube.aclose()


async def test_each_call_asks_the_configuration_for_fresh_credentials(server: Server) -> None:
    server.behaviour.answer = True
    kube = kube_for(server)
    tokens = iter(["second", "third"])

    def refresh(configuration: kubernetes.client.Configuration) -> None:
        configuration.api_key["BearerToken"] = next(tokens)

    kube._configuration.refresh_api_key_hook = refresh

    await kube.create_secret("team", SECRET)
    await kube.create_secret("team", SECRET)
    await kube.aclose()

    assert server.behaviour.authorizations == ["Bearer second", "Bearer third"]


def test_a_socks_proxy_is_refused_with_what_to_change() -> None:
    configuration = kubernetes.client.Configuration()
    configuration.host = "https://10.0.0.1:6443"
    configuration.proxy = "socks5://proxy.example:1080"

    with pytest.raises(kubernetes.config.ConfigException, match="only HTTP"):
        proxy_of(configuration)


def test_a_server_exempted_by_no_proxy_is_reached_directly() -> None:
    configuration = kubernetes.client.Configuration()
    configuration.host = "https://10.0.0.1:6443"
    configuration.proxy = "http://proxy.example:3128"
    configuration.no_proxy = "10.0.0.0/8"

    assert proxy_of(configuration) is None
