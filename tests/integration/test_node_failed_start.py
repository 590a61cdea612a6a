"""A node whose start fails half-way is torn down before the failure propagates: no process in
its namespaces or cgroups, no cgroup, no state directory left."""

from __future__ import annotations

from pathlib import Path

import pytest

from maskinporten_testbed.node import Node
from maskinporten_testbed.node.teardown import node_pids
from tests.cluster.helpers import prepared_or_skipped

pytestmark = pytest.mark.cluster


def test_a_node_failing_to_import_an_image_is_torn_down(tmp_path: Path) -> None:
    prepared_or_skipped()
    node = Node([tmp_path / "no-such-archive.tar"])

    with pytest.raises(RuntimeError, match="images import"):
        node.__enter__()

    assert node_pids(node.namespaces.ids, node.cgroup_root) == set()
    assert list(Path("/sys/fs/cgroup").glob(f"*/{node.cgroup_root}")) == []
    assert not node.state.exists()
