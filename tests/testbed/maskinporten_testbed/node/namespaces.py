"""The node's network and mount namespaces: held by a ``sleep``, entered with ``nsenter``.

Everything inside them (the mounts, the interfaces, the routes, the iptables rules) goes with
their last process, so the machine's own are never touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .processes import Process, ProcessTable
from .settings import KUBELET_SYSCTLS, NAMESPACE_SYSCTLS, NODE_IP, UPLINK, UPLINK_PEER

KINDS = ("net", "mnt")
_CLONE_NEWNET = 0x40000000


def namespace_ids(pid: int | str) -> dict[str, str]:
    """``{"net": "net:[…]", "mnt": "mnt:[…]"}`` of a process (readlink gives the identity)."""
    return {kind: os.readlink(f"/proc/{pid}/ns/{kind}") for kind in KINDS}


@dataclass(frozen=True)
class Namespaces:
    """The namespaces held by ``holder``, and their identities."""

    holder: Process
    ids: dict[str, str]

    def command(self, command: list[str], *, workdir: Path | None = None) -> list[str]:
        """``command`` run inside (nsenter execs it: its PID is the command's own)."""
        entering = ["nsenter", f"--target={self.holder.pid}", "--net", "--mount"]
        if workdir is not None:  # nsenter --mount changes to / otherwise
            entering.append(f"--wd={workdir}")
        return [*entering, "--", *command]

    def run(self, command: list[str]) -> str:
        """Run ``command`` inside and return its output; raise naming it when it fails."""
        result = subprocess.run(self.command(command), capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed in the node: {result.stderr.strip()}")
        return result.stdout

    def path(self, path: str) -> Path:
        """``path`` as seen inside the mount namespace."""
        return Path(f"/proc/{self.holder.pid}/root{path}")

    def listening(self, port: int) -> bool:
        """Whether something listens on TCP ``port`` in the network namespace."""
        for table in ("tcp", "tcp6"):
            with contextlib.suppress(FileNotFoundError):
                lines = Path(f"/proc/{self.holder.pid}/net/{table}").read_text().splitlines()
                for line in lines[1:]:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        return True
        return False

    @contextlib.contextmanager
    def network_entered(self) -> Iterator[None]:
        """The calling thread in the node's network namespace (setns acts on one thread);
        sockets it opens meanwhile stay there. Back in its own namespace after."""
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        with (
            open("/proc/thread-self/ns/net") as own,
            open(f"/proc/{self.holder.pid}/ns/net") as node,
        ):
            if libc.setns(node.fileno(), _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the node's network namespace")
            try:
                yield
            finally:
                if libc.setns(own.fileno(), _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back into the own namespace")


def start_holder(table: ProcessTable) -> Namespaces:
    """A ``sleep`` in new network and mount namespaces (private propagation) that holds them."""
    own = namespace_ids("self")
    holder = table.spawn(
        "holder", ["unshare", "--net", "--mount", "--propagation", "private", "sleep", "infinity"]
    )
    deadline = time.monotonic() + 10
    while any(namespace_ids(holder.pid)[kind] == own[kind] for kind in KINDS):
        if time.monotonic() > deadline or not holder.alive:
            raise RuntimeError("unshare did not create the namespaces")
        time.sleep(0.02)  # unshare(1) has not unshared yet
    return Namespaces(holder, namespace_ids(holder.pid))


def set_up_mounts(namespaces: Namespaces, state: Path) -> None:
    """A private /run (containerd hard-wires /run/containerd), an overlay on /var (the kubelet
    hard-wires /var/log/pods, libcni /var/lib/cni) and the kubelet's host-wide sysctls answered
    by bind-mounted files."""
    var, sysctls = state / "var", state / "sysctl"
    for directory in (var / "upper", var / "work", sysctls):
        directory.mkdir(parents=True)
    commands = [
        ["mount", "-t", "tmpfs", "-o", "mode=755", "maskinporten-node-run", "/run"],
        [
            "mount",
            "-t",
            "overlay",
            "maskinporten-node-var",
            "-o",
            f"lowerdir=/var,upperdir={var}/upper,workdir={var}/work",
            "/var",
        ],
    ]
    for key, value in KUBELET_SYSCTLS.items():
        file = sysctls / key.replace("/", ".")
        file.write_text(value + "\n")
        commands.append(["mount", "--bind", str(file), f"/proc/sys/{key}"])
    for command in commands:
        namespaces.run(command)


def set_up_network(namespaces: Namespaces) -> None:
    """Loopback up with the node's address, the veth default route, the per-namespace sysctls."""
    for command in (
        ["ip", "link", "set", "lo", "up"],
        ["ip", "addr", "add", f"{NODE_IP}/32", "dev", "lo"],
        ["ip", "link", "add", UPLINK, "type", "veth", "peer", "name", UPLINK_PEER],
        ["ip", "link", "set", UPLINK, "up"],
        ["ip", "route", "add", "default", "dev", UPLINK, "src", NODE_IP],
    ):
        namespaces.run(command)
    for key, value in NAMESPACE_SYSCTLS.items():
        namespaces.run(["sh", "-c", f"echo {value} > /proc/sys/{key}"])
