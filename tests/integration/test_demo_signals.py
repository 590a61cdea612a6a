"""``hack/run-demo`` stopped with a signal (as ``timeout``, a CI runner or a service manager
stops it) stops everything it started: the control plane and the operator process too.

The demo runs in its own session, so the signal reaches it alone, as ``kill PID`` does.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from maskinporten_testbed.binaries import ensure_all
from tests.integration.processes import (
    Child,
    children,
    killed_with_children,
    started_until_it_says,
)

OPERATOR_LIVE = "applying the sample MaskinportenClient"
"""What the demo says once the operator process is live."""
LONG_LIVED = {"etcd", "kube-apiserver", "kube-controller-manager", "maskinporten-operator"}
EXIT_GUARD_SECONDS = 120
"""Only against a hang: stopping takes seconds."""

pytestmark = pytest.mark.integration  # the demo builds or reuses the test bed's binaries


@dataclass
class RunningDemo:
    process: subprocess.Popen[str]
    children: list[Child]


@pytest.fixture
def demo() -> Iterator[RunningDemo]:
    """The demo as a command, once its operator is live; whatever it leaves is killed after."""
    ensure_all()
    process, _ = started_until_it_says(
        [sys.executable, "-m", "maskinporten_testbed.demo"], OPERATOR_LIVE
    )
    running = None
    try:
        started = [child for child in children(process.pid) if child.name in LONG_LIVED]
        running = RunningDemo(process, started)
        yield running
    finally:
        killed_with_children(process, running.children if running else [])


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["SIGTERM", "SIGHUP", "SIGINT"]
)
def test_the_demo_stopped_by_a_signal_stops_the_operator_and_the_control_plane(
    demo: RunningDemo, signum: signal.Signals
) -> None:
    assert sorted(child.name for child in demo.children) == sorted(LONG_LIVED)

    demo.process.send_signal(signum)
    demo.process.wait(timeout=EXIT_GUARD_SECONDS)

    assert [child.name for child in demo.children if child.is_running()] == []
