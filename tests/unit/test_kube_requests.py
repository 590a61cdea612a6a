"""How the operator's Kubernetes client sends its requests, against a bare HTTP server on
loopback: what a dropped connection costs (a create or a patch is never sent twice), what the
write fence refuses, what a cancelled caller leaves behind, timeouts, redirects, and the
credentials of each call."""

from __future__ import annotations

import asyncio
import socket
import socketserver
import threading
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from typing import Any

import kubernetes
import pytest

from maskinporten_operator.adapters.kube import UNREACHABLE, Kube, WriteFence
from maskinporten_operator.adapters.kube_connection import proxy_of
from maskinporten_operator.api import FIELD_MANAGER, GROUP, PLURAL, VERSION
from maskinporten_operator.ports import KubeError

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "weather-token"}}
CREATED_BODY = b'{"kind":"Secret","metadata":{"name":"weather-token","resourceVersion":"1"}}'


def answer(status: str, body: bytes, *headers: str) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


CREATED = answer("201 Created", CREATED_BODY, "Content-Type: application/json")


@dataclass
class Behaviour:
    """What the server does with each request once it has read it: send ``answer``; with
    ``hold``, first wait until ``release`` is set (or the client closes the connection); with
    neither, hang up."""

    answer: bytes | None = None
    hold: bool = False
    heads: list[list[str]] = field(default_factory=list)
    """Each request's head, line by line."""
    received: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    closed_by_client: threading.Event = field(default_factory=threading.Event)

    @property
    def request_lines(self) -> list[str]:
        return [head[0] for head in self.heads]

    def header(self, name: str) -> list[str]:
        """The values of header ``name`` in every request, in order."""
        prefix = f"{name.lower()}:"
        return [
            line.split(":", 1)[1].strip()
            for head in self.heads
            for line in head
            if line.lower().startswith(prefix)
        ]


class Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        connection: socket.socket = self.request
        behaviour: Behaviour = self.server.behaviour  # type: ignore[attr-defined]
        while (head := _read_request(connection)) is not None:
            behaviour.heads.append(head.decode().split("\r\n"))
            behaviour.received.set()
            if behaviour.hold and not _released(connection, behaviour):
                return
            if behaviour.answer is None:
                return
            connection.sendall(behaviour.answer)


def _released(connection: socket.socket, behaviour: Behaviour) -> bool:
    """Wait for ``release``; False (and ``closed_by_client`` set) if the client closes first."""
    connection.settimeout(0.05)
    while not behaviour.release.is_set():
        try:
            if connection.recv(65536) == b"":
                behaviour.closed_by_client.set()
                return False
        except TimeoutError:
            continue
    connection.settimeout(None)
    return True


def _read_request(connection: socket.socket) -> bytes | None:
    """A request's head (its body read by Content-Length), or None when the client closed."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lengths = [
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    ]
    while len(body) < sum(lengths):
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
        server.behaviour.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def configuration_of(server: Server) -> kubernetes.client.Configuration:
    configuration = kubernetes.client.Configuration()
    configuration.host = f"http://127.0.0.1:{server.server_address[1]}"
    configuration.api_key = {"BearerToken": "first"}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    return configuration


def kube_for(server: Server, **options: Any) -> Kube:
    return Kube(configuration_of(server), concurrency=1, **options)


async def failed(call: Awaitable[object]) -> KubeError:
    with pytest.raises(KubeError) as raised:
        await call
    return raised.value


async def test_a_create_after_a_connection_error_is_not_resent(server: Server) -> None:
    kube = kube_for(server)

    error = await failed(kube.create_secret("team", SECRET))
    await kube.aclose()

    assert error.status == UNREACHABLE
    assert server.behaviour.request_lines == ["POST /api/v1/namespaces/team/secrets HTTP/1.1"]


async def test_a_status_patch_after_a_connection_error_is_not_resent(server: Server) -> None:
    kube = kube_for(server)

    error = await failed(kube.patch_status("team", "weather", {"phase": "x"}))
    await kube.aclose()

    assert error.status == UNREACHABLE
    assert server.behaviour.request_lines == [
        f"PATCH /apis/{GROUP}/{VERSION}/namespaces/team/{PLURAL}/weather/status HTTP/1.1"
    ]


async def test_a_replace_whose_connection_drops_is_sent_once_more(server: Server) -> None:
    kube = kube_for(server)

    error = await failed(kube.replace_secret("team", SECRET, resource_version="7"))
    await kube.aclose()

    assert error.status == UNREACHABLE
    assert (
        server.behaviour.request_lines
        == ["PUT /api/v1/namespaces/team/secrets/weather-token HTTP/1.1"] * 2
    )


async def test_a_pod_annotation_is_a_merge_patch_under_the_operator_s_field_manager(
    server: Server,
) -> None:
    server.behaviour.answer = CREATED
    kube = kube_for(server)

    await kube.annotate_pod("team", "api-0", {"note": "x"})
    await kube.aclose()

    assert server.behaviour.request_lines == [
        f"PATCH /api/v1/namespaces/team/pods/api-0?fieldManager={FIELD_MANAGER} HTTP/1.1"
    ]
    assert server.behaviour.header("Content-Type") == ["application/merge-patch+json"]


async def test_a_write_the_fence_refuses_is_not_sent(server: Server) -> None:
    kube = kube_for(server)
    kube.fence = WriteFence(may_write=lambda: False, timeout_seconds=5)

    error = await failed(kube.create_secret("team", SECRET))
    await kube.aclose()

    assert error.status == UNREACHABLE
    assert "not the leader" in error.detail
    assert server.behaviour.heads == []


async def test_a_write_the_fence_refuses_frees_its_slot(server: Server) -> None:
    kube = kube_for(server)
    kube.fence = WriteFence(may_write=lambda: False, timeout_seconds=5)

    first = await failed(kube.create_secret("team", SECRET))
    second = await failed(kube.create_secret("team", SECRET))
    await kube.aclose()

    assert "not the leader" in first.detail
    assert "not the leader" in second.detail


async def test_the_fence_is_asked_once_a_write_has_its_slot(server: Server) -> None:
    server.behaviour.hold = True
    server.behaviour.answer = CREATED
    leading = [True]
    kube = kube_for(server, clock=lambda: 0.0)  # credentials asked once, then shared
    kube.fence = WriteFence(may_write=lambda: leading[0], timeout_seconds=30)
    first = asyncio.create_task(kube.create_secret("team", SECRET))
    assert await asyncio.to_thread(server.behaviour.received.wait, 30)
    second = asyncio.create_task(kube.create_secret("team", SECRET))
    for _ in range(10):  # turns of the loop (no time): the second write waits for the slot
        await asyncio.sleep(0)

    leading[0] = False
    server.behaviour.release.set()

    await first
    error = await failed(second)
    await kube.aclose()
    assert "not the leader" in error.detail
    assert len(server.behaviour.heads) == 1


async def test_a_write_the_fence_allows_is_sent_and_answered(server: Server) -> None:
    server.behaviour.answer = CREATED
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


async def test_a_write_cut_off_by_its_caller_is_unsettled_until_its_timeout(
    server: Server,
) -> None:
    server.behaviour.hold = True
    now = [100.0]
    kube = kube_for(server, clock=lambda: now[0])
    kube.fence = WriteFence(may_write=lambda: True, timeout_seconds=600)
    caller = asyncio.create_task(kube.create_secret("team", SECRET))
    assert await asyncio.to_thread(server.behaviour.received.wait, 30)

    caller.cancel()
    await asyncio.gather(caller, return_exceptions=True)

    assert await kube.settled(0) == 1
    now[0] += 600
    assert await kube.settled(30) == 0
    await kube.aclose()


async def test_a_write_answered_leaves_nothing_to_settle(server: Server) -> None:
    server.behaviour.answer = CREATED
    kube = kube_for(server)
    kube.fence = WriteFence(may_write=lambda: True, timeout_seconds=600)

    await kube.create_secret("team", SECRET)

    assert await kube.settled(0) == 0
    await kube.aclose()


async def test_a_call_without_an_answer_fails_at_its_timeout(server: Server) -> None:
    server.behaviour.hold = True
    kube = kube_for(server)

    error = await failed(kube.read_lease("ops", "operator", request_timeout=0.2))
    await kube.aclose()

    assert error.status == UNREACHABLE
    assert "TimeoutError" in error.detail


async def test_a_redirect_is_an_error_and_not_followed(server: Server) -> None:
    server.behaviour.answer = answer("307 Temporary Redirect", b"", "Location: /elsewhere")
    kube = kube_for(server)

    error = await failed(kube.create_secret("team", SECRET))
    await kube.aclose()

    assert error.status == 307
    assert len(server.behaviour.heads) == 1


async def test_a_success_that_is_not_json_is_an_error(server: Server) -> None:
    server.behaviour.answer = answer("200 OK", b"<html>proxy login</html>")
    kube = kube_for(server)

    error = await failed(kube.get_secret("team", "weather-token"))
    await kube.aclose()

    assert error.status == 200
    assert "not JSON" in error.detail


async def test_a_call_after_closing_is_refused_unsent(server: Server) -> None:
    kube = kube_for(server)
    await kube.aclose()

    error = await failed(kube.get_secret("team", "weather-token"))

    assert error.status == UNREACHABLE
    assert server.behaviour.heads == []


async def test_credentials_are_asked_for_again_once_a_second_old(server: Server) -> None:
    server.behaviour.answer = CREATED
    configuration = configuration_of(server)
    tokens = iter(["second", "third"])

    def refresh(refreshed: kubernetes.client.Configuration) -> None:
        refreshed.api_key["BearerToken"] = next(tokens)

    configuration.refresh_api_key_hook = refresh
    now = [100.0]
    kube = Kube(configuration, concurrency=1, clock=lambda: now[0])

    await kube.create_secret("team", SECRET)
    now[0] += 0.9
    await kube.create_secret("team", SECRET)
    now[0] += 0.1
    await kube.create_secret("team", SECRET)
    await kube.aclose()

    assert server.behaviour.header("Authorization") == [
        "Bearer second",
        "Bearer second",
        "Bearer third",
    ]


async def test_credentials_that_cannot_be_had_fail_the_call_unsent(server: Server) -> None:
    configuration = configuration_of(server)

    def refresh(_: kubernetes.client.Configuration) -> None:
        raise kubernetes.config.ConfigException("exec plugin failed")

    configuration.refresh_api_key_hook = refresh
    kube = Kube(configuration, concurrency=1)

    error = await failed(kube.get_secret("team", "weather-token"))
    await kube.aclose()

    assert error.status == UNREACHABLE
    assert "no credentials" in error.detail
    assert server.behaviour.heads == []


def test_a_server_exempted_by_no_proxy_is_reached_directly() -> None:
    configuration = kubernetes.client.Configuration()
    configuration.host = "https://10.0.0.1:6443"
    configuration.proxy = "http://proxy.example:3128"
    configuration.no_proxy = "10.0.0.0/8"

    assert proxy_of(configuration) is None
