"""``python -m maskinporten_testbed.controlplane`` stopped with ``kill`` or Ctrl-C leaves nothing
behind: etcd, kube-apiserver and kube-controller-manager are stopped, the directory is removed.

The control plane runs in its own session, so the signal reaches it alone (as ``kill PID`` does)
and it has to stop its processes itself.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.processes import Child, children, killed_with_children

READY = "export KUBECONFIG="
EXIT_GUARD_SECONDS = 120
"""Only against a hang: stopping takes seconds, and each child is killed after 15."""


@dataclass
class RunningControlPlane:
    process: subprocess.Popen[str]
    workdir: Path
    children: list[Child]


@pytest.fixture
def control_plane(tmp_path: Path) -> Iterator[RunningControlPlane]:
    """The control plane as a command, once it has said it is ready; whatever it leaves behind
    is removed afterwards."""
    stderr = tmp_path / "stderr.log"
    with stderr.open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "maskinporten_testbed.controlplane"],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            start_new_session=True,
        )
    assert process.stdout is not None
    running = None
    try:  # from here: a signal while waiting for the line must not leave it running
        line = process.stdout.readline()
        assert line.startswith(READY), stderr.read_text()
        workdir = Path(line.removeprefix(READY).strip()).parent
        running = RunningControlPlane(process, workdir, children(process.pid))
        yield running
    finally:
        killed_with_children(process, running.children if running else [])
        if running:
            shutil.rmtree(running.workdir, ignore_errors=True)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_control_plane_stopped_by_a_signal_stops_its_processes_and_removes_its_directory(
    control_plane: RunningControlPlane, signum: signal.Signals
) -> None:
    assert sorted(child.name for child in control_plane.children) == [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
    ]
    assert control_plane.workdir.is_dir()

    control_plane.process.send_signal(signum)
    control_plane.process.wait(timeout=EXIT_GUARD_SECONDS)

    assert [child.name for child in control_plane.children if child.is_running()] == []
    assert not control_plane.workdir.exists()
