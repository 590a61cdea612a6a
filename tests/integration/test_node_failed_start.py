"""A node whose start fails half-way is torn down before the failure propagates: no process in
its namespaces or cgroups, no cgroup, no state directory left."""

from __future__ import annotations

from pathlib import Path

import pytest

from maskinporten_testbed.node import Node, NodeUnavailable, prepare
from maskinporten_testbed.node.teardown import node_pids

pytestmark = pytest.mark.cluster


def test_a_node_failing_to_import_an_image_is_torn_down(tmp_path: Path) -> None:
    try:
        prepare()
    except NodeUnavailable as unavailable:
        pytest.skip(f"the one-node cluster cannot run here: {unavailable}")
    node = Node([tmp_path / "no-such-archive.tar"])

    with pytest.raises(RuntimeError, match="images import"):
        node.__enter__()

    assert node_pids(node.namespaces.ids, node.cgroup_root) == set()
    assert list(Path("/sys/fs/cgroup").glob(f"*/{node.cgroup_root}")) == []
    assert not node.state.exists()
