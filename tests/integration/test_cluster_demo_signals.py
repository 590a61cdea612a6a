"""``hack/run-demo --cluster`` stopped with a signal stops everything of the node: no process
in its namespaces, no mount, no cgroup left (its teardown checks the machine's interfaces,
iptables rules and sysctls too, and fails the demo if one changed). SIGKILLed, it cannot: the
next node sweeps what it left before it starts."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from maskinporten_testbed.node.cluster import one_node_at_a_time
from maskinporten_testbed.node.namespaces import namespace_ids
from maskinporten_testbed.node.teardown import node_pids
from tests.cluster.helpers import prepared_or_skipped
from tests.integration.processes import children, killed_with_children, started_until_it_says

NODE_UP = "==> node up"
STATE = re.compile(r"state in (\S+):")
EXIT_GUARD_SECONDS = 120
"""Only against a hang: the teardown takes seconds."""

pytestmark = pytest.mark.cluster


@dataclass
class RunningDemo:
    process: subprocess.Popen[str]
    namespaces: dict[str, str]
    state: Path
    """The node's state directory; its name is the node's cgroup root."""


@pytest.fixture
def demo() -> Iterator[RunningDemo]:
    """The cluster demo as a command, once its node is up; whatever it leaves is killed after."""
    prepared_or_skipped()
    process, said = started_until_it_says(
        [sys.executable, "-m", "maskinporten_testbed.demo", "--cluster"], NODE_UP
    )
    try:
        (holder,) = [child for child in children(process.pid) if child.name == "sleep"]
        state = STATE.search(said)
        assert state is not None, said
        yield RunningDemo(process, namespace_ids(holder.pid), Path(state[1]))
    finally:
        killed_with_children(process)


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["SIGTERM", "SIGHUP", "SIGINT"]
)
def test_the_cluster_demo_stopped_by_a_signal_leaves_nothing_of_the_node(
    demo: RunningDemo, signum: signal.Signals
) -> None:
    demo.process.send_signal(signum)
    output, _ = demo.process.communicate(timeout=EXIT_GUARD_SECONDS)

    assert "torn down" in output, output[-3000:]
    assert node_pids(demo.namespaces, demo.state.name) == set()
    assert str(demo.state) not in Path("/proc/self/mountinfo").read_text()
    assert list(Path("/sys/fs/cgroup").glob(f"*/{demo.state.name}")) == []
    assert not demo.state.exists()


def test_what_a_sigkilled_cluster_demo_left_is_swept_when_the_next_node_starts(
    demo: RunningDemo,
) -> None:
    demo.process.kill()
    demo.process.wait(timeout=EXIT_GUARD_SECONDS)
    left_running = node_pids(demo.namespaces, demo.state.name)

    with one_node_at_a_time():
        swept = node_pids(demo.namespaces, demo.state.name)

    assert left_running, "nothing outlived the test bed: there was nothing to sweep"
    assert swept == set()
    assert str(demo.state) not in Path("/proc/self/mountinfo").read_text()
    assert list(Path("/sys/fs/cgroup").glob(f"*/{demo.state.name}")) == []
    assert not demo.state.exists()
