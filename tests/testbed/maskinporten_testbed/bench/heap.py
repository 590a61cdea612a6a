"""``python -m maskinporten_testbed.bench.heap``: what each MaskinportenClient a replica holds
costs in memory, by owner (prints figures, asserts none).

One operator under :mod:`tracemalloc` (:mod:`.traced`) on the local control plane and the
Maskinporten stand-in; clients (each with its own key Secret, 600 s tokens) are added up to each
size in turn and, once all are Ready and a settling pause has passed, a heap snapshot and the
RSS are taken. Between two sizes, the growth of the live heap divided by the clients added is
what one held client costs; each allocation is charged to an owner by its traceback
(:data:`HOLDERS`, then the innermost frame among :data:`CALLERS`): the watch's JSON parse of a
cached Secret counts for the Secret cache, a key parsed in a reconciliation for the parsed keys.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from maskinporten_operator.api import GROUP, KIND, PLURAL, VERSION
from maskinporten_testbed.controlplane import LocalControlPlane
from maskinporten_testbed.operatorprocess import OperatorProcess, operator_settings
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.signals import stopped_by_signals
from maskinporten_testbed.standin import StandinThread

from .cli import install_crds
from .kube import Api, api_for, parallel
from .process import memory_mib, ready_count
from .world import READY_TIMEOUT, STEADY_SCOPE, bench_keys, client_id, register_clients
from .world import resource_name as name_of

NAMESPACE = "heap"
HOLDERS: tuple[tuple[str, str], ...] = (
    ("maskinporten_operator/adapters/watched_secrets.py", "Secret cache (WatchedSecrets)"),
    ("maskinporten_operator/credentials/", "parsed keys"),
)
"""Owners that hold what deeper frames (a JSON parse, a key import) allocate for them."""
CALLERS: tuple[tuple[str, str], ...] = (
    ("maskinporten_operator/reconcile/", "reconcile (ClientMemory, tokens, status)"),
    ("maskinporten_operator/runtime/run.py", "kopf (watch bodies, daemons, state)"),
    ("maskinporten_operator/runtime/", "runtime (loops, wake-ups, handlers)"),
    ("maskinporten_operator/", "operator, other"),
    ("/kopf/", "kopf (watch bodies, daemons, state)"),
    ("/kubernetes/", "kubernetes client"),
    ("/httpx/", "httpx"),
    ("/httpcore/", "httpx"),
    ("/prometheus_client/", "metrics"),
    ("/asyncio/", "asyncio"),
)
"""The others, charged to the innermost frame that matches one (``run.py`` calls
``kopf.run``: what it leads to outside the operator's own frames is kopf's)."""


def owner(traceback: tracemalloc.Traceback) -> str:
    files = [frame.filename for frame in traceback]
    for pattern, name in HOLDERS:
        if any(pattern in file for file in files):
            return name
    for file in reversed(files):
        for pattern, name in CALLERS:
            if pattern in file:
                return name
    return "other"


def where(traceback: tracemalloc.Traceback) -> str:
    """The innermost frame in the operator's package, else the innermost one."""
    ours = [frame for frame in traceback if "maskinporten_operator/" in frame.filename]
    frame = (ours or list(traceback))[-1]
    return f"{frame.filename.rpartition('site-packages/')[2]}:{frame.lineno}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m maskinporten_testbed.bench.heap",
        description="Per-client memory by owner, from tracemalloc snapshots (prints figures).",
    )
    parser.add_argument("--sizes", default="1000,2000", help="client counts (comma-separated)")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds after all Ready")
    parser.add_argument("--top", type=int, default=25, help="source lines listed")
    return parser


def main() -> None:
    """Run it; SIGINT, SIGTERM and SIGHUP stop it and everything it started."""
    args = _parser().parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    with stopped_by_signals(), tempfile.TemporaryDirectory(prefix="heap-") as directory:
        points = _measure(sizes, args.settle, Path(directory))
        _report(points, args.top)


def _measure(
    sizes: Sequence[int], settle: float, directory: Path
) -> list[tuple[int, float, tracemalloc.Snapshot]]:
    keys = bench_keys(sizes[-1])
    with LocalControlPlane(controller_manager=False) as plane, StandinThread() as standin:
        install_crds(plane)
        api = api_for(plane.kubeconfig)
        standin.set_lifetime(STEADY_SCOPE, 600)
        register_clients(standin, keys)
        api.create_namespace(NAMESPACE)
        settings = operator_settings(standin, NAMESPACE)
        log = plane.workdir / f"operator-heap-{time.time():.0f}.log"
        operator = OperatorProcess(plane.kubeconfig, log, settings, heap_snapshots=directory)
        operator.process.send_signal(signal.SIGUSR1)  # tracing starts
        points: list[tuple[int, float, tracemalloc.Snapshot]] = []
        try:
            for held, size in itertools.pairwise((0, *sizes)):
                _hold(operator, api, keys, range(held, size))
                time.sleep(settle)
                snapshot = _snapshot(operator, directory, len(points) + 1)
                points.append((size, memory_mib(operator.process.pid, "VmRSS"), snapshot))
                print(f"[heap] {size} clients: RSS {points[-1][1]:.0f} MiB", flush=True)
        finally:
            operator.stop()
    return points


def _hold(operator: OperatorProcess, api: Api, keys: Sequence[str], indexes: range) -> None:
    """Add the clients at ``indexes`` (and their key Secrets); return once all are Ready."""
    api.put_key_secrets(NAMESPACE, keys, indexes)

    def create(index: int) -> None:
        spec = {"clientId": client_id(index), "scopes": {"consumes": [{"name": STEADY_SCOPE}]}}
        body: dict[str, Any] = {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND}
        body |= {"metadata": {"name": name_of(index)}, "spec": spec}
        api.custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)

    parallel(create, indexes)
    eventually(
        lambda: ready_count(operator) >= indexes.stop,
        what=f"{indexes.stop} Ready",
        timeout=READY_TIMEOUT,
        interval=2.0,
    )


def _snapshot(operator: OperatorProcess, directory: Path, number: int) -> tracemalloc.Snapshot:
    operator.process.send_signal(signal.SIGUSR1)
    path = directory / f"{number}.snapshot"
    eventually(path.exists, what=f"heap snapshot {path.name}", timeout=600, interval=1.0)
    return tracemalloc.Snapshot.load(str(path))


def _report(points: Sequence[tuple[int, float, tracemalloc.Snapshot]], top: int) -> None:
    for (n0, rss0, before), (n1, rss1, after) in itertools.pairwise(points):
        added = n1 - n0
        by_owner: Counter[str] = Counter()
        by_line: Counter[str] = Counter()
        for stat in after.compare_to(before, "traceback"):
            by_owner[owner(stat.traceback)] += stat.size_diff
            by_line[where(stat.traceback)] += stat.size_diff
        traced = sum(by_owner.values())
        print(f"\nfrom {n0} to {n1} clients: per client added, KiB")
        print(f"  RSS {(rss1 - rss0) * 1024 / added:7.1f}  ({rss0:.0f} -> {rss1:.0f} MiB)")
        print(f"  traced heap {traced / 1024 / added:7.1f}")
        for name, size in by_owner.most_common():
            print(f"    {size / 1024 / added:7.2f}  {name}")
        print(f"  top {top} source lines (innermost operator frame, else innermost):")
        for line, size in by_line.most_common(top):
            print(f"    {size / 1024 / added:7.2f}  {line}")


if __name__ == "__main__":
    main()
