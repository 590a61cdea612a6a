"""The test suite stopped with a signal (as a CI runner stops it at its time limit) tears its
fixtures down: the control plane a fixture started is stopped and its directory removed.

The suite's signal handling (``tests/stop_on_signals.py``) runs here in a pytest of its own, in
its own session, over a test that holds a control plane and waits."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from maskinporten_testbed.binaries import ensure_all
from tests.integration.processes import children, killed_with_children, started_until_it_says

REPO = Path(__file__).resolve().parents[2]
READY = "control plane at "
EXIT_GUARD_SECONDS = 120
"""Only against a hang: stopping takes seconds."""
HOLDING_TEST = f'''
import time

import pytest

from maskinporten_testbed.controlplane import LocalControlPlane


@pytest.fixture
def plane():
    with LocalControlPlane(controller_manager=False) as plane:
        yield plane


def test_holds_a_control_plane(plane):
    print("{READY}" + str(plane.workdir), flush=True)
    time.sleep(600)
'''

INNER_PYTEST = (
    *(sys.executable, "-m", "pytest", "-s", "-q"),
    *("-p", "tests.stop_on_signals", "-p", "no:cacheprovider"),
)

pytestmark = pytest.mark.integration  # the inner run starts the test bed's control plane


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_the_suite_stopped_by_a_signal_stops_what_its_fixtures_started(
    tmp_path: Path, signum: signal.Signals
) -> None:
    ensure_all()
    (tmp_path / "test_holding.py").write_text(HOLDING_TEST)
    process, said = started_until_it_says(
        [*INNER_PYTEST, str(tmp_path / "test_holding.py")], READY, cwd=REPO
    )
    started = []
    try:
        workdir = Path(said.split(READY, 1)[1].split()[0])
        started = children(process.pid)
        assert sorted(child.name for child in started) == ["etcd", "kube-apiserver"]

        process.send_signal(signum)
        process.wait(timeout=EXIT_GUARD_SECONDS)

        assert [child.name for child in started if child.is_running()] == []
        assert not workdir.exists()
    finally:
        killed_with_children(process, started)
