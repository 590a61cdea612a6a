"""The apply phase (the operator, then the reference loop) and the restart phase."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey
from joserfc.util import urlsafe_b64decode

from maskinporten_operator.api import GROUP, KIND, PLURAL, VERSION
from maskinporten_operator.rfc3339 import parse_time
from maskinporten_testbed.controlplane import LocalControlPlane
from maskinporten_testbed.operatorprocess import OperatorProcess
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread

from .kube import Api, ReadyWatch, api_delta, parallel
from .process import cpu_seconds, memory_mib, ready_count, start_operator, token_log_reset
from .world import (
    APPLY_SCOPE,
    READY_TIMEOUT,
    client_id,
    key_secret_name,
    resource_name,
    workload_secret_name,
)


@dataclass
class Phase:
    who: str
    n: int
    latencies: list[float]
    wall: float
    cpu: float
    peak_rss_mib: float
    token_requests: int
    requests: Counter[str]
    notes: list[str] = field(default_factory=list)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def operator_apply(
    plane: LocalControlPlane,
    standin: StandinThread,
    api: Api,
    keys: Sequence[str],
    profile: Path | None,
) -> tuple[Phase, OperatorProcess, str]:
    n = len(keys)
    namespace = f"op-{n}"
    api.create_namespace(namespace)
    api.put_key_secrets(namespace, keys)
    operator = start_operator(plane, standin, namespace, profile)
    watch = ReadyWatch(api, namespace)
    time.sleep(1.0)  # the operator's watches and the benchmark's are established
    before, own = api.request_counts(), api.own.copy()
    cpu_before, tokens_before = cpu_seconds(operator.process.pid), token_log_reset(standin)
    created_at: dict[str, float] = {}

    def create(index: int) -> None:
        name = resource_name(index)
        created_at[name] = time.monotonic()
        spec = {"clientId": client_id(index), "scopes": {"consumes": [{"name": APPLY_SCOPE}]}}
        body: dict[str, Any] = {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND}
        body |= {"metadata": {"name": name}, "spec": spec}
        api.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)

    started = time.monotonic()
    parallel(create, range(n))
    api.own["POST maskinportenclients"] += n
    eventually(
        lambda: len(watch.ready_at) >= n,
        what=f"{n} MaskinportenClients Ready",
        timeout=READY_TIMEOUT,
        interval=0.2,
    )
    wall = max(watch.ready_at.values()) - started
    pid = operator.process.pid
    phase = Phase(
        who="operator",
        n=n,
        latencies=[watch.ready_at[name] - created_at[name] for name in created_at],
        wall=wall,
        cpu=cpu_seconds(pid) - cpu_before,
        peak_rss_mib=memory_mib(pid, "VmHWM"),
        token_requests=standin.request_count() - tokens_before,
        requests=api_delta(api, before, own),
    )
    watch.stop()
    return phase, operator, namespace


def _import_key(jwk: dict[str, str]) -> RSAKey:
    """The cheapest sound load: cryptography checks p*q == n, not the primes (the minimum a
    loop must do; the operator adds the rest of RFC 8017's congruences, microseconds)."""

    def number(name: str) -> int:  # as the operator reads them (joserfc's is 10 times slower)
        return int.from_bytes(urlsafe_b64decode(jwk[name].encode()), "big")

    numbers = rsa.RSAPrivateNumbers(
        number("p"),
        number("q"),
        number("d"),
        number("dp"),
        number("dq"),
        number("qi"),
        rsa.RSAPublicNumbers(number("e"), number("n")),
    )
    return RSAKey.import_key(numbers.private_key(unsafe_skip_rsa_key_validation=True))


def reference(standin: StandinThread, api: Api, keys: Sequence[str]) -> Phase:
    """The bare minimum, sequentially on this thread (its CPU is this thread's)."""
    n = len(keys)
    namespace = f"ref-{n}"
    api.create_namespace(namespace)
    api.put_key_secrets(namespace, keys)
    before, own = api.request_counts(), api.own.copy()
    tokens_before = token_log_reset(standin)
    latencies = []
    with httpx.Client(timeout=30) as http:
        cpu_before, started = time.thread_time(), time.monotonic()
        listed = api.core.list_namespaced_secret(namespace, _preload_content=False)
        secrets = {item["metadata"]["name"]: item for item in json.loads(listed.data)["items"]}
        for index in range(n):
            jwk = json.loads(base64.b64decode(secrets[key_secret_name(index)]["data"]["jwk"]))
            key = _import_key(jwk)
            now = int(time.time())
            claims = {
                "aud": standin.issuer,
                "iss": client_id(index),
                "scope": APPLY_SCOPE,
                "iat": now,
                "exp": now + 60,
                "jti": str(uuid.uuid4()),
            }
            header = {"alg": "RS256", "typ": "JWT", "kid": jwk["kid"]}
            grant = jwt.encode(header, claims, key, algorithms=["RS256"])
            response = http.post(
                standin.token_endpoint,
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": grant,
                },
            )
            response.raise_for_status()
            token = response.json()["access_token"]
            body = {
                "metadata": {"name": workload_secret_name(index)},
                "stringData": {"MASKINPORTEN_ACCESS_TOKEN": token},
            }
            api.core.create_namespaced_secret(namespace, body, _preload_content=False)
            latencies.append(time.monotonic() - started)
        wall, cpu = time.monotonic() - started, time.thread_time() - cpu_before
    return Phase(
        who="reference",
        n=n,
        latencies=latencies,
        wall=wall,
        cpu=cpu,
        peak_rss_mib=memory_mib(os.getpid(), "VmHWM"),
        token_requests=standin.request_count() - tokens_before,
        requests=api_delta(api, before, own),
        notes=["RSS is the benchmark process's (it holds the stand-in too)"],
    )


def restart(
    plane: LocalControlPlane,
    standin: StandinThread,
    api: Api,
    operator: OperatorProcess,
    namespace: str,
    n: int,
    profile: Path | None,
) -> list[tuple[str, str]]:
    """Restart the operator over N resources holding valid tokens."""
    operator.stop()
    listed = api.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    api.own["LIST maskinportenclients"] += 1
    started_wall = time.time()
    due = sum(
        1
        for item in listed["items"]
        if parse_time(item["status"]["nextRefreshTime"]) <= started_wall + 60
    )
    tokens_before = token_log_reset(standin)
    started = time.monotonic()
    fresh = start_operator(plane, standin, namespace, profile)
    all_ready: float = eventually(
        lambda: time.monotonic() if ready_count(fresh) >= n else None,
        what=f"{n} Ready in the restarted operator's metrics",
        timeout=READY_TIMEOUT,
        interval=0.5,
    )
    minute = started + 60
    eventually(lambda: time.monotonic() >= minute, what="a minute", timeout=70, interval=0.5)
    requested = standin.request_count() - tokens_before
    cpu = cpu_seconds(fresh.process.pid)
    fresh.stop()
    return [
        ("restart: all Ready in metrics after", f"{all_ready - started:.1f} s"),
        ("restart: tokens requested in the first minute", f"{requested} ({due} due anyway)"),
        ("restart: operator CPU in the first minute", f"{cpu:.1f} s"),
    ]
