"""The Debian packages the node needs, installed by the test bed itself when missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

from .errors import NodeUnavailable

PACKAGES = (
    "containerd",
    "runc",
    "containernetworking-plugins",
    "iptables",
    "conntrack",
    "debootstrap",
    "buildah",
    "busybox-static",
)


def _log(message: str) -> None:
    print(f"[node] {message}", file=sys.stderr, flush=True)


def missing_packages() -> list[str]:
    """The packages of ``PACKAGES`` that dpkg does not have installed."""
    if shutil.which("dpkg-query") is None:
        return list(PACKAGES)
    listed = subprocess.run(
        ["dpkg-query", "--show", "--showformat=${Package} ${db:Status-Status}\\n", *PACKAGES],
        capture_output=True,
        text=True,
    ).stdout
    installed = {line.split()[0] for line in listed.splitlines() if line.endswith(" installed")}
    return [package for package in PACKAGES if package not in installed]


def install_packages() -> None:
    """``apt-get install`` whatever of ``PACKAGES`` is missing (nothing when all are there).

    Raises :class:`NodeUnavailable` where that cannot be done: not Debian, not root, or apt
    failing (its last lines say why)."""
    missing = missing_packages()
    if not missing:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise NodeUnavailable(
            "the node needs the Debian packages " + ", ".join(missing) + " (installed by the "
            "test bed with apt-get as root; install them yourself elsewhere)"
        )
    started = time.monotonic()
    _log(f"installing {', '.join(missing)} with apt-get")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", *missing],
    ):
        result = subprocess.run(command, capture_output=True, text=True, env=environment)
        if result.returncode != 0:
            tail = (result.stdout + result.stderr)[-1500:]
            raise NodeUnavailable(f"{' '.join(command[:2])} failed ({result.returncode}):\n{tail}")
    _log(f"installed in {time.monotonic() - started:.0f} s")
