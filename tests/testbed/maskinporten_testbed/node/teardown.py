"""Stopping the node by PID and checking that nothing of it is left on the machine."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from maskinporten_testbed import binaries

from .namespaces import KINDS, Namespaces, namespace_ids
from .processes import ProcessTable, reap, start_time, stop
from .settings import WATCHED_SYSCTLS

CGROUPS = Path("/sys/fs/cgroup")
FIRST_STOPPED = ("kube-proxy", "kubelet", "kube-scheduler", "kube-controller-manager")


def host_snapshot() -> dict[str, str]:
    """What the node must not change on the machine: interfaces, iptables rules, sysctls."""
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    without_comments = "\n".join(line for line in rules.splitlines() if not line.startswith("#"))
    snapshot = {
        "interfaces": " ".join(sorted(path.name for path in Path("/sys/class/net").iterdir())),
        "iptables rules": hashlib.sha256(without_comments.encode()).hexdigest(),
    }
    for key in WATCHED_SYSCTLS:
        with contextlib.suppress(OSError):
            snapshot[f"sysctl {key}"] = Path(f"/proc/sys/{key}").read_text().strip()
    return snapshot


def stop_containers(namespaces: Namespaces) -> None:
    """SIGKILL every task through containerd and wait until they are gone (the CRI plugin
    deletes exited tasks itself), so that the shims exit; then delete the containers."""
    ctr = ["ctr", "--namespace=k8s.io"]

    def listed(kind: str) -> list[str]:
        result = subprocess.run(
            namespaces.command([*ctr, kind, "ls", "--quiet"]), capture_output=True, text=True
        )
        return result.stdout.split() if result.returncode == 0 else []

    def quietly(*command: str) -> None:
        subprocess.run(namespaces.command([*ctr, *command]), capture_output=True)

    for task in listed("tasks"):
        quietly("tasks", "kill", "--signal=SIGKILL", task)
    deadline = time.monotonic() + 10
    while (remaining := listed("tasks")) and time.monotonic() < deadline:
        for task in remaining:
            quietly("tasks", "delete", task)
        time.sleep(0.1)
    for container in listed("containers"):
        quietly("containers", "delete", container)


def node_pids(ids: dict[str, str], cgroup_root: str) -> set[int]:
    """Every PID in the node's namespaces or under its cgroup root (containers have namespaces
    of their own)."""
    return {int(entry.name) for entry in _in_namespaces(ids, match=any)} | _in_cgroup(cgroup_root)


def _in_namespaces(ids: dict[str, str], *, match: Callable[[Iterable[bool]], bool]) -> list[Path]:
    """The ``/proc`` entries of the processes in ``any`` (or ``all``) of the namespaces ``ids``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if match(os.readlink(entry / "ns" / kind) == ids[kind] for kind in KINDS):
                    found.append(entry)
    return found


def _in_cgroup(cgroup_root: str) -> set[int]:
    pids: set[int] = set()
    for procs in CGROUPS.glob(f"*/{cgroup_root}/**/cgroup.procs"):
        with contextlib.suppress(OSError):
            pids.update(int(pid) for pid in procs.read_text().split())
    return pids


def kill_strays(ids: dict[str, str], cgroup_root: str, tracked: set[int]) -> None:
    """SIGKILL what no tracked process accounts for (the shims and containers, or whatever
    a killed containerd left), and wait until they are gone."""
    if _are_own(ids):
        raise RuntimeError(f"refusing to sweep namespaces {ids}: they are the test bed's own")
    _kill_and_wait(node_pids(ids, cgroup_root) - tracked)


def _kill_and_wait(strays: set[int]) -> None:
    for pid in strays:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while strays and time.monotonic() < deadline:
        for pid in strays:
            reap(pid)
        strays = {pid for pid in strays if start_time(pid) is not None}
        time.sleep(0.05)


def sweep_killed_node(record: Path) -> list[str]:
    """What a SIGKILLed test bed left of its node, stopped: the node's own processes get a
    SIGTERM on its death (and a stopping kube-apiserver can hang), containerd's shims
    (re-parented, holding the node's namespaces) and the containers run on. ``record`` (JSON:
    ``namespaces``, ``cgroup_root``, ``state``) is what that node wrote when it came up and
    removes on a teardown; none, nothing to sweep. Only processes under the node's cgroup root (a
    name of its own) and the node's programs in both its namespaces are killed: namespace
    identities are reused once freed. Returns what was swept, for the log."""
    if not record.exists():
        return []
    node = json.loads(record.read_text())
    ids, cgroup_root, state = node["namespaces"], node["cgroup_root"], Path(node["state"])
    strays = _in_cgroup(cgroup_root) | _node_programs_in(ids)
    _kill_and_wait(strays)
    swept = [f"process {pid}" for pid in sorted(strays)]
    swept += [f"cgroup {path}" for path in CGROUPS.glob(f"*/{cgroup_root}")]
    left = remove_cgroups(cgroup_root)
    if state.exists():
        swept.append(f"directory {state}")
        shutil.rmtree(state, ignore_errors=True)
    left += [f"directory {state}"] if state.exists() else []
    if left:
        raise RuntimeError("could not sweep a killed node's:\n  - " + "\n  - ".join(left))
    record.unlink()
    return swept


def _are_own(ids: dict[str, str]) -> bool:
    return bool(set(namespace_ids("self").values()) & set(ids.values()))


def _node_programs_in(ids: dict[str, str]) -> set[int]:
    """The processes in both namespaces ``ids`` that run the node's programs: containerd and
    its shims, or a binary from the test bed's cache (kube-apiserver, etcd, the kubelet, ...;
    one may still be stopping after the SIGTERM its parent's death sent it)."""
    if _are_own(ids):
        return set()
    cache = str(binaries.cache_root())

    def runs_node_program(entry: Path) -> bool:
        with contextlib.suppress(OSError):
            comm = (entry / "comm").read_text()
            return comm.startswith("containerd") or os.readlink(entry / "exe").startswith(cache)
        return False

    return {int(e.name) for e in _in_namespaces(ids, match=all) if runs_node_program(e)}


def remove_cgroups(cgroup_root: str) -> list[str]:
    """Remove the cgroup root in every hierarchy, deepest first; return what stayed."""
    left = []
    for top in CGROUPS.glob(f"*/{cgroup_root}"):
        children = sorted(
            (d for d in top.rglob("*") if d.is_dir()), key=lambda d: len(d.parts), reverse=True
        )
        for directory in [*children, top]:
            if not _rmdir_with_retries(directory):
                left.append(f"cgroup {directory}")
    return left


def _rmdir_with_retries(directory: Path) -> bool:
    for _ in range(50):
        try:
            directory.rmdir()
        except FileNotFoundError:
            return True
        except OSError:
            time.sleep(0.1)
        else:
            return True
    return False


def teardown(
    table: ProcessTable,
    namespaces: Namespaces | None,
    *,
    state: Path,
    cgroup_root: str,
    host_before: dict[str, str],
) -> None:
    """Stop everything by PID (containers through containerd first), let the namespaces and
    their mounts and interfaces go with their last process, remove the cgroups and ``state``;
    raise naming whatever is left behind."""
    started = time.monotonic()
    for name in FIRST_STOPPED:
        if process := table.named(name):
            stop(process)
    containerd = table.named("containerd")
    if namespaces is not None and containerd is not None and containerd.alive:
        stop_containers(namespaces)
    for process in reversed(table.processes):
        if process.name != "holder":
            stop(process)
    if namespaces is not None:
        kill_strays(namespaces.ids, cgroup_root, {p.pid for p in table.processes if p.alive})
    if holder := table.named("holder"):
        stop(holder, grace=2)
    left = remove_cgroups(cgroup_root)
    shutil.rmtree(state, ignore_errors=True)
    left += leftovers(
        table, namespaces, state=state, cgroup_root=cgroup_root, host_before=host_before
    )
    if left:
        raise RuntimeError("the node's teardown left behind:\n  - " + "\n  - ".join(left))
    print(f"[node] torn down in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)


def leftovers(
    table: ProcessTable,
    namespaces: Namespaces | None,
    *,
    state: Path,
    cgroup_root: str,
    host_before: dict[str, str],
) -> list[str]:
    """What of the node is still on the machine."""
    left = [f"tracked process {p.name} ({p.pid})" for p in table.processes if p.alive]
    if namespaces is not None:
        left += [f"process {pid}" for pid in node_pids(namespaces.ids, cgroup_root)]
    left += [
        f"mount {line}"
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if str(state) in line or "maskinporten-node" in line
    ]
    left += [f"cgroup {path}" for path in CGROUPS.glob(f"*/{cgroup_root}")]
    if state.exists():
        left.append(f"directory {state}")
    now = host_snapshot()
    left += [
        f"the machine's {key} changed: {before!r} -> {now.get(key)!r}"
        for key, before in host_before.items()
        if now.get(key) != before
    ]
    return left
