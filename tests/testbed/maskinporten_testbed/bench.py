"""The scale benchmark (``hack/bench``): the operator against the bare minimum, side by side.

Starts the local control plane and the Maskinporten stand-in, then for each N:

- **operator**: ``maskinporten-operator run`` as a subprocess; N MaskinportenClients are applied
  at once (their keys registered at the stand-in and their key Secrets created beforehand);
  apply→Ready per resource (a watch on the resources' Ready condition), CPU seconds and peak
  RSS of the operator process (``/proc``), token requests (the stand-in's log) and API requests
  by verb and resource (the API server's ``apiserver_request_total``, delta over the phase,
  the benchmark's own requests subtracted);
- **reference**: the least work the job needs, in this process: one LIST of the key Secrets,
  then per resource import its JWK (without OpenSSL's primality tests), sign a grant with
  joserfc, POST it with httpx and create one Secret with the ``kubernetes`` client.

For the largest N, a **restart** (the operator restarted with N valid tokens: tokens requested
in the first minute, time until every resource is Ready in the metrics) and a **steady state**
(short-lived tokens, several refreshes per resource: CPU, RSS, Events, expired tokens seen in
Secrets, failed token requests, API requests and token requests per refresh). The steady state
can be sharded (``--steady-shards K``): K operators, each watching a namespace of its own with
N/K of the resources, as K releases of the chart with disjoint ``watchNamespaces`` would run.

It prints figures and asserts none: the machine may be shared, so wall times are noisy; CPU
seconds and request counts are the robust figures. Every wait has a deadline; all traffic stays
on loopback. Keys are generated once and kept in the test bed's cache (``bench-keys``).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import pstats
import re
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import kubernetes
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey
from joserfc.util import urlsafe_b64decode

from maskinporten_operator.api import CLIENT_LABEL, GROUP, KIND, PLURAL, VERSION, WATCHED_SELECTOR
from maskinporten_operator.credentials.keys import generate_client_key
from maskinporten_operator.rfc3339 import parse_time
from maskinporten_testbed import binaries
from maskinporten_testbed.controlplane import LocalControlPlane
from maskinporten_testbed.operatorprocess import OperatorProcess, operator_settings
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import Client, RegisteredKey, StandinThread

REPO = Path(__file__).resolve().parents[2]
APPLY_SCOPE = "bench:apply"
STEADY_SCOPE = "bench:steady"
ORG = "991825827"
READY_TIMEOUT = 1800.0
TICK = os.sysconf("SC_CLK_TCK")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE", "APPLY"})
READS = frozenset({"GET", "LIST"})
SERIES = re.compile(r"^apiserver_request_total\{([^}]*)\} (\S+)$", re.MULTILINE)
LABEL = re.compile(r'(\w+)="([^"]*)"')
WATCHED_RESOURCES = frozenset({"secrets", "maskinportenclients", "events"})


# --- the world: keys, clients, the API server's counters, the operator process -------------


def _new_key(_: int) -> str:
    return generate_client_key().private_jwk_json()


def bench_keys(count: int) -> list[str]:
    """``count`` distinct private JWKs, generated once (~75 ms of CPU each) and cached."""
    directory = binaries.cache_root() / "bench-keys"
    directory.mkdir(parents=True, exist_ok=True)
    have = sorted(directory.glob("*.json"))
    if len(have) < count:
        print(f"[bench] generating {count - len(have)} RSA keys (cached for later runs)")
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for index, jwk in enumerate(pool.map(_new_key, range(len(have), count), chunksize=16)):
                (directory / f"{len(have) + index:06d}.json").write_text(jwk)
        have = sorted(directory.glob("*.json"))
    return [path.read_text() for path in have[:count]]


def client_id(index: int) -> str:
    return f"bench-{index}"


def resource_name(index: int) -> str:
    return f"c{index:05d}"


def key_secret_name(index: int) -> str:
    return f"{resource_name(index)}-maskinporten-key"


def workload_secret_name(index: int) -> str:
    return f"{resource_name(index)}-maskinporten"


@dataclass
class Api:
    """The ``kubernetes`` client's APIs (typed ``Any``: they are called with wire-shape dicts)."""

    client: Any
    core: Any
    custom: Any
    own: Counter[str] = field(default_factory=Counter)
    """The benchmark's own requests by ``"VERB resource"``, subtracted from the server's."""

    def request_counts(self) -> Counter[str]:
        """``apiserver_request_total`` summed by ``"VERB resource[/subresource]"``."""
        response = self.client.call_api("GET", self.client.configuration.host + "/metrics")
        text = response.read().decode()
        counts: Counter[str] = Counter()
        for labels, value in SERIES.findall(text):
            found = dict(LABEL.findall(labels))
            if found.get("resource") not in WATCHED_RESOURCES:
                continue
            sub = f"/{found['subresource']}" if found.get("subresource") else ""
            counts[f"{found['verb']} {found['resource']}{sub}"] += int(float(value))
        return counts

    def create_namespace(self, name: str) -> None:
        self.core.create_namespace({"metadata": {"name": name}})

    def put_key_secrets(
        self, namespace: str, keys: Sequence[str], indexes: Iterable[int] | None = None
    ) -> None:
        """Create the key Secrets of the clients at ``indexes`` (default: all of ``keys``)."""

        def put(index: int) -> None:
            body = {  # labelled for its client, as the README recommends
                "metadata": {
                    "name": key_secret_name(index),
                    "labels": {CLIENT_LABEL: resource_name(index)},
                },
                "stringData": {"jwk": keys[index]},
            }
            self.core.create_namespaced_secret(namespace, body)

        _parallel(put, range(len(keys)) if indexes is None else indexes)


def _parallel(function: Callable[[int], None], indexes: Iterable[int]) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in pool.map(function, indexes):
            pass


def api_for(kubeconfig: Path) -> Api:
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(str(kubeconfig), client_configuration=configuration)
    configuration.connection_pool_maxsize = 8
    client = kubernetes.client.ApiClient(configuration)
    return Api(
        client, kubernetes.client.CoreV1Api(client), kubernetes.client.CustomObjectsApi(client)
    )


def api_delta(api: Api, before: Counter[str], own: Counter[str]) -> Counter[str]:
    """Requests since ``before``, less the benchmark's own since ``own``."""
    after, mine = api.request_counts(), api.own - own
    delta = Counter({key: after[key] - before[key] - mine[key] for key in after})
    return Counter({key: count for key, count in delta.items() if count > 0})


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def memory_mib(pid: int, field_name: str) -> float:
    """``VmHWM`` (peak RSS) or ``VmRSS`` of the process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def token_log_reset(standin: StandinThread) -> int:
    """Empty the stand-in's request log (it keeps the last 10,000) and return its count, 0: a
    phase counts its own token requests from here."""
    standin.clear_requests()
    return standin.token_request_count()


def start_operator(
    plane: LocalControlPlane, standin: StandinThread, namespace: str, profile: Path | None
) -> OperatorProcess:
    settings = {**operator_settings(standin, namespace), "MASKINPORTEN_OPERATOR_LOG_LEVEL": "INFO"}
    log = plane.workdir / f"operator-{namespace}-{time.time():.0f}.log"
    return OperatorProcess(plane.kubeconfig, log, settings, profile=profile)


def ready_count(operator: OperatorProcess) -> int:
    try:
        text = httpx.get(operator.metrics, timeout=10).text
    except httpx.TransportError:
        return 0
    return len(re.findall(r"^maskinporten_operator_ready\{[^}]*\} 1\.0$", text, re.MULTILINE))


def metric_sum(operator: OperatorProcess, name: str, **labels: str) -> float:
    text = httpx.get(operator.metrics, timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rpartition(" ")[2])
    return total


class ReadyWatch:
    """When each MaskinportenClient in a namespace first showed ``Ready=True`` (a watch)."""

    def __init__(self, api: Api, namespace: str) -> None:
        self._api = api
        self._namespace = namespace
        self.ready_at: dict[str, float] = {}
        self._watch = kubernetes.watch.Watch()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="ready-watch")
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._stopped.is_set() and time.monotonic() < deadline:
            try:
                self._stream()
            except Exception:  # a broken watch is opened again (with a new list)
                time.sleep(0.5)

    def _stream(self) -> None:
        stream = self._watch.stream(
            self._api.custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            self._namespace,
            PLURAL,
            timeout_seconds=int(READY_TIMEOUT),
        )
        for event in stream:
            body = event["object"]
            conditions = (body.get("status") or {}).get("conditions") or []
            name = body["metadata"]["name"]
            if name not in self.ready_at and any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
            ):
                self.ready_at[name] = time.monotonic()

    def stop(self) -> None:
        self._stopped.set()
        self._watch.stop()


# --- phases -----------------------------------------------------------------------------------


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
    _parallel(create, range(n))
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
        token_requests=standin.token_request_count() - tokens_before,
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
        token_requests=standin.token_request_count() - tokens_before,
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
    requested = standin.token_request_count() - tokens_before
    cpu = cpu_seconds(fresh.process.pid)
    fresh.stop()
    return [
        ("restart: all Ready in metrics after", f"{all_ready - started:.1f} s"),
        ("restart: tokens requested in the first minute", f"{requested} ({due} due anyway)"),
        ("restart: operator CPU in the first minute", f"{cpu:.1f} s"),
    ]


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

        _parallel(create, range(n))
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
        tokens = standin.token_request_count() - tokens_before
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
        ("steady: API requests by verb", _requests(requests)),
        ("steady: Events on resources (whole run, incl. apply)", _requests(events) or "0"),
        (
            "steady: Secrets seen holding an expired token",
            f"{len(expired_seen)} ({samples} samples)",
        ),
    ]


# --- output -----------------------------------------------------------------------------------


def _requests(counts: Counter[str]) -> str:
    return ", ".join(f"{key} {count}" for key, count in sorted(counts.items()))


def print_table(phases: Sequence[Phase], extra: Sequence[tuple[str, str]], machine: str) -> None:
    header = (
        f"{'N':>6} {'who':<9} {'p50 s':>7} {'p99 s':>7} {'all s':>7} {'CPU s':>7} "
        f"{'ms/res':>7} {'RSS MiB':>8} {'tokens':>7} {'API':>6}  API requests by verb"
    )
    print(f"\n{machine}\n{header}\n" + "-" * len(header))
    by_n: dict[int, dict[str, Phase]] = {}
    for phase in phases:
        by_n.setdefault(phase.n, {})[phase.who] = phase
        api_total = sum(c for k, c in phase.requests.items() if not k.startswith("WATCH"))
        print(
            f"{phase.n:>6} {phase.who:<9} {phase.percentile(0.5):>7.2f} "
            f"{phase.percentile(0.99):>7.2f} {phase.wall:>7.2f} {phase.cpu:>7.1f} "
            f"{1000 * phase.cpu / phase.n:>7.1f} {phase.peak_rss_mib:>8.0f} "
            f"{phase.token_requests:>7} {api_total:>6}  {_requests(phase.requests)}"
        )
    for n, pair in by_n.items():
        if {"operator", "reference"} <= pair.keys():
            op, ref = pair["operator"], pair["reference"]
            op_api = sum(c for k, c in op.requests.items() if not k.startswith("WATCH"))
            ref_api = sum(c for k, c in ref.requests.items() if not k.startswith("WATCH"))
            print(
                f"{n:>6} {'ratio':<9} {'':>7} {'':>7} {op.wall / ref.wall:>6.2f}x "
                f"{op.cpu / ref.cpu:>6.2f}x {'':>7} {'':>8} "
                f"{op.token_requests / max(ref.token_requests, 1):>6.2f}x "
                f"{op_api / max(ref_api, 1):>5.2f}x"
            )
    for label, value in extra:
        print(f"{label:<52} {value}")


IDLE = ("'poll' of 'select", "'select' of 'select", "time.sleep", "'acquire' of '_thread")
"""Profile entries that are waiting, not working (cProfile measures wall time)."""


def print_profile(path: Path, title: str, count: int = 5) -> None:
    if not path.exists():
        print(f"\nprofile {title}: none written ({path})")
        return
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    working = [
        (where, value)
        for where, value in stats.items()
        if not any(idle in where[2] for idle in IDLE)
    ]
    working.sort(key=lambda item: item[1][2], reverse=True)
    total = sum(value[2] for _, value in working) or 1.0
    print(f"\nprofile {title}: top {count} by own time, of {total:.1f} s busy on the main thread")
    for (filename, line, function), (_, calls, own, cumulative, _) in working[:count]:
        where = f"{Path(filename).name}:{line}({function})"
        print(
            f"  {100 * own / total:5.1f}%  own {own:7.2f} s  cum {cumulative:7.2f} s  "
            f"{calls:>8} calls  {where}"
        )


# --- main -------------------------------------------------------------------------------------


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Scale benchmark: the operator against the bare minimum (prints figures)."
    )
    parser.add_argument("--sizes", default="100,500,1000", help="N values (comma-separated)")
    parser.add_argument("--lifetime", type=int, default=600, help="token lifetime, apply phase")
    parser.add_argument("--steady-lifetime", type=int, default=120, help="token lifetime, steady")
    parser.add_argument(
        "--steady-seconds", type=float, help="steady phase length (default: 1.5 lifetimes)"
    )
    parser.add_argument(
        "--steady-shards",
        type=_positive,
        default=1,
        help="operators in the steady phase, each watching its own namespace of N/K resources",
    )
    parser.add_argument("--no-steady", action="store_true", help="skip the steady phase")
    parser.add_argument("--no-restart", action="store_true", help="skip the restart phase")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference loop")
    parser.add_argument("--profile", type=Path, help="directory for the operator's cProfile")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    largest = sizes[-1]
    if args.steady_shards > largest:
        parser.error(f"--steady-shards {args.steady_shards} leaves operators without resources")
    steady_seconds = args.steady_seconds or 1.5 * args.steady_lifetime
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    def profile(name: str) -> Path | None:
        return args.profile / f"{name}.prof" if args.profile else None

    keys = bench_keys(largest)
    binaries.ensure_all()
    with LocalControlPlane(controller_manager=False) as plane, StandinThread() as standin:
        kubectl = [str(binaries.KUBERNETES.path("kubectl")), f"--kubeconfig={plane.kubeconfig}"]
        subprocess.run(
            [*kubectl, "apply", "-f", str(REPO / "crds")], check=True, capture_output=True
        )
        subprocess.run(
            [*kubectl, "wait", "--for=condition=Established", "crd", "--all"],
            check=True,
            capture_output=True,
        )
        api = api_for(plane.kubeconfig)
        standin.set_lifetime(APPLY_SCOPE, args.lifetime)
        for index, jwk in enumerate(keys):
            public = {
                k: v
                for k, v in json.loads(jwk).items()
                if k in ("kty", "e", "n", "kid", "alg", "use")
            }
            standin.register_client(
                Client(
                    client_id=client_id(index),
                    org=ORG,
                    scopes=frozenset({APPLY_SCOPE, STEADY_SCOPE}),
                    keys=(RegisteredKey(public),),
                )
            )
        phases: list[Phase] = []
        extra: list[tuple[str, str]] = []
        for n in sizes:
            print(f"[bench] N={n}: operator", flush=True)
            phase, operator, namespace = operator_apply(
                plane, standin, api, keys[:n], profile(f"apply-{n}")
            )
            phases.append(phase)
            if n == largest and not args.no_restart:
                print(f"[bench] N={n}: restart", flush=True)
                extra += restart(
                    plane, standin, api, operator, namespace, n, profile(f"restart-{n}")
                )
            else:
                operator.stop()
            if not args.no_reference:
                print(f"[bench] N={n}: reference", flush=True)
                phases.append(reference(standin, api, keys[:n]))
        if not args.no_steady:
            print(f"[bench] N={largest}: steady state for {steady_seconds:.0f} s", flush=True)
            extra += steady(
                plane,
                standin,
                api,
                keys,
                args.steady_lifetime,
                steady_seconds,
                profile(f"steady-{largest}"),
                args.steady_shards,
            )
    machine = (
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end "
        "(the machine may be shared: CPU seconds and request counts are the robust figures); "
        f"apply-phase token lifetime {args.lifetime} s"
    )
    print_table(phases, extra, machine)
    if args.profile:
        for path in sorted(args.profile.glob("*.prof")):
            print_profile(path, path.stem)


if __name__ == "__main__":
    main()
