"""The steady state: short-lived tokens refreshed several times per resource, optionally
sharded over several operators."""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from maskinporten_operator.api import GROUP, KIND, PLURAL, VERSION, WATCHED_SELECTOR
from maskinporten_operator.rfc3339 import parse_time
from maskinporten_testbed.controlplane import LocalControlPlane
from maskinporten_testbed.operatorprocess import OperatorProcess
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread

from .kube import READS, WRITES, Api, api_delta, parallel
from .process import (
    cpu_seconds,
    memory_mib,
    metric_sum,
    ready_count,
    start_operator,
    token_log_reset,
)
from .report import by_verb
from .world import READY_TIMEOUT, STEADY_SCOPE, client_id, resource_name


def steady(
    plane: LocalControlPlane,
    standin: StandinThread,
    api: Api,
    keys: Sequence[str],
    lifetime: int,
    duration: float,
    profile: Path | None,
    shards: int = 1,
) -> list[tuple[str, str]]:
    """N resources with ``lifetime``-second tokens, measured for ``duration`` s once Ready.

    With ``shards`` > 1, the resources are spread over that many namespaces, each watched by an
    operator of its own (``MASKINPORTEN_OPERATOR_NAMESPACES``, as one release per namespace set
    would): CPU is their sum, RSS the largest of them. ``profile`` is the first one's.
    """
    n = len(keys)
    namespaces = [f"steady-{n}"] if shards == 1 else [f"steady-{n}-{s}" for s in range(shards)]
    standin.set_lifetime(STEADY_SCOPE, lifetime)
    for shard, namespace in enumerate(namespaces):
        api.create_namespace(namespace)
        api.put_key_secrets(namespace, keys, range(shard, n, shards))
    operators: list[OperatorProcess] = []
    try:
        for shard, namespace in enumerate(namespaces):
            operators.append(
                start_operator(plane, standin, namespace, profile if shard == 0 else None)
            )

        def create(index: int) -> None:
            spec = {"clientId": client_id(index), "scopes": {"consumes": [{"name": STEADY_SCOPE}]}}
            body: dict[str, Any] = {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND}
            body |= {"metadata": {"name": resource_name(index)}, "spec": spec}
            namespace = namespaces[index % shards]
            api.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)

        def failed_token_requests() -> float:
            name = "maskinporten_operator_token_requests_total"
            return sum(metric_sum(operator, name, result="failure") for operator in operators)

        parallel(create, range(n))
        eventually(
            lambda: sum(ready_count(operator) for operator in operators) >= n,
            what=f"{n} Ready",
            timeout=READY_TIMEOUT,
            interval=1.0,
        )
        pids = [operator.process.pid for operator in operators]
        before, own = api.request_counts(), api.own.copy()
        cpu_before, tokens_before = sum(map(cpu_seconds, pids)), token_log_reset(standin)
        failures_before = failed_token_requests()
        started = time.monotonic()
        expired_seen: set[str] = set()
        samples = 0
        while time.monotonic() - started < duration:
            for namespace in namespaces:
                listed = api.core.list_namespaced_secret(
                    namespace, label_selector=WATCHED_SELECTOR, _preload_content=False
                )
                api.own["LIST secrets"] += 1
                now = time.time()
                for item in json.loads(listed.data)["items"]:
                    expires = (item.get("data") or {}).get("MASKINPORTEN_ACCESS_TOKEN_EXPIRES_AT")
                    if expires and parse_time(base64.b64decode(expires).decode()) <= now:
                        expired_seen.add(f"{namespace}/{item['metadata']['name']}")
            samples += 1
            time.sleep(min(10.0, max(0.0, duration - (time.monotonic() - started))))
        elapsed = time.monotonic() - started
        cpu = sum(map(cpu_seconds, pids)) - cpu_before
        requests = api_delta(api, before, own)
        tokens = standin.request_count() - tokens_before
        failures = failed_token_requests() - failures_before
        rss = [memory_mib(pid, "VmRSS") for pid in pids]
        peak = [memory_mib(pid, "VmHWM") for pid in pids]
        events = Counter(
            str(event.reason)
            for namespace in namespaces
            for event in api.core.list_namespaced_event(namespace).items
            if event.involved_object.kind == "MaskinportenClient"
        )
    finally:
        for operator in operators:
            operator.stop()
    refreshes = requests["PUT secrets"]

    def per(count: float) -> str:
        return f"{count / refreshes:.2f}" if refreshes else "n/a"

    writes = sum(c for k, c in requests.items() if k.split()[0] in WRITES)
    reads = sum(c for k, c in requests.items() if k.split()[0] in READS)
    total = sum(c for k, c in requests.items() if k.split()[0] != "WATCH")
    memory = f"{max(rss):.0f} / {max(peak):.0f} MiB"
    if shards > 1:
        each = ", ".join(f"{now:.0f}/{top:.0f}" for now, top in zip(rss, peak, strict=True))
        memory += f" (largest of {shards} operators; each now/peak: {each})"
    return [
        ("steady: N, token lifetime, measured", f"{n}, {lifetime} s, {elapsed:.0f} s"),
        ("steady: operators (one namespace each)", str(shards)),
        ("steady: CPU cores on average", f"{cpu / elapsed:.3f} ({cpu:.1f} CPU-s)"),
        ("steady: RSS now / peak", memory),
        ("steady: refreshes (Secret updates)", str(refreshes)),
        ("steady: token requests / per refresh", f"{tokens} / {per(tokens)}"),
        ("steady: failed token requests (operator metric)", f"{failures:.0f}"),
        (
            "steady: API requests / writes / reads per refresh",
            f"{per(total)} / {per(writes)} / {per(reads)}",
        ),
        ("steady: API requests by verb", by_verb(requests)),
        ("steady: Events on resources (whole run, incl. apply)", by_verb(events) or "0"),
        (
            "steady: Secrets seen holding an expired token",
            f"{len(expired_seen)} ({samples} samples)",
        ),
    ]
