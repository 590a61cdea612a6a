"""What the machine must offer before anything of the node starts: checked all at once, so that
one message names everything missing."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
from pathlib import Path

from maskinporten_testbed import binaries

from .errors import NodeUnavailable
from .settings import CNI_BIN

COMMANDS = {
    "unshare": "util-linux",
    "nsenter": "util-linux",
    "mount": "mount",
    "ip": "iproute2",
    "containerd": "containerd",
    "containerd-shim-runc-v2": "containerd",
    "ctr": "containerd",
    "runc": "runc",
    "iptables": "iptables",
    "iptables-save": "iptables",
    "conntrack": "conntrack",
}
CNI_PLUGINS = ("bridge", "host-local", "loopback", "portmap")
KERNEL_OPTIONS = (
    "CONFIG_NET_NS",
    "CONFIG_VETH",
    "CONFIG_BRIDGE",
    "CONFIG_OVERLAY_FS",
    "CONFIG_NF_NAT",
    "CONFIG_NETFILTER_XT_MATCH_COMMENT",
    "CONFIG_MEMCG",
    "CONFIG_CGROUP_PIDS",
)
CGROUP_CONTROLLERS = ("cpu", "memory", "pids")


def check_prerequisites() -> None:
    """Raise :class:`NodeUnavailable` naming everything the node lacks here."""
    if os.geteuid() != 0:
        raise NodeUnavailable("the node needs root (namespaces, mounts, cgroups, iptables)")
    missing = [
        *_missing_commands(),
        *_missing_binaries(),
        *_missing_kernel_features(),
    ]
    if missing:
        raise NodeUnavailable("the node cannot start; missing:\n  - " + "\n  - ".join(missing))
    probe = subprocess.run(["unshare", "--net", "--mount", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise NodeUnavailable(f"cannot create network and mount namespaces: {probe.stderr}")


def _missing_commands() -> list[str]:
    missing = [
        f"the command {command} (Debian package {package})"
        for command, package in COMMANDS.items()
        if shutil.which(command) is None
    ]
    missing += [
        f"{CNI_BIN}/{plugin} (Debian package containernetworking-plugins)"
        for plugin in CNI_PLUGINS
        if not os.access(f"{CNI_BIN}/{plugin}", os.X_OK)
    ]
    return missing


def _missing_binaries() -> list[str]:
    return [
        f"{tool_set.path(binary)} (python -m maskinporten_testbed.binaries --node builds it)"
        for tool_set in binaries.NODE_TOOL_SETS
        for binary in tool_set.packages
        if not os.access(tool_set.path(binary), os.X_OK)
    ]


def _missing_kernel_features() -> list[str]:
    filesystems = Path("/proc/filesystems").read_text()
    missing = [
        f"kernel support for the {filesystem} file system"
        for filesystem in ("overlay", "tmpfs", "cgroup")
        if not re.search(rf"\s{filesystem}$", filesystems, re.MULTILINE)
    ]
    if not Path("/proc/self/ns/net").exists():
        missing.append("kernel support for network namespaces")
    missing += [
        f"the {controller} cgroup controller"
        for controller in CGROUP_CONTROLLERS
        if not (Path("/sys/fs/cgroup") / controller).is_dir() and not _cgroup2_has(controller)
    ]
    config = _kernel_config()
    missing += [
        f"kernel option {option}" for option in KERNEL_OPTIONS if config and option not in config
    ]
    return missing


def _cgroup2_has(controller: str) -> bool:
    controllers = Path("/sys/fs/cgroup/cgroup.controllers")
    return controllers.exists() and controller in controllers.read_text().split()


def _kernel_config() -> set[str]:
    """The kernel's options built in or as modules, when it tells (an empty set otherwise)."""
    path = Path("/proc/config.gz")
    if not path.exists():
        return set()
    text = gzip.decompress(path.read_bytes()).decode()
    return set(re.findall(r"^(CONFIG_\w+)=[ym]$", text, re.MULTILINE))
