"""A machine where the one-node cluster cannot run: one message naming everything missing, and
the cluster tests reported as skipped with it. Nothing is started."""

from __future__ import annotations

import subprocess
import sys

from maskinporten_testbed.repository import REPOSITORY

CHECK = "from maskinporten_testbed.node.prerequisites import check_prerequisites as c; c()"


def _run(command: list[str], **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        env={"HOME": "/nonexistent", **environment},
        timeout=120,
    )


def test_the_message_names_each_missing_command_with_its_package_and_each_binary() -> None:
    result = _run(
        [sys.executable, "-c", CHECK],
        PATH="/nonexistent",
        MASKINPORTEN_TESTBED_CACHE="/nonexistent",
    )
    assert "NodeUnavailable: the node cannot start; missing:" in result.stderr
    assert "the command containerd (Debian package containerd)" in result.stderr
    assert "the command nsenter (Debian package util-linux)" in result.stderr
    assert "/nonexistent/bin/kubernetes-node-v1.36.3/kubelet" in result.stderr


def test_the_cluster_tests_are_skipped_with_the_reason() -> None:
    result = _run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", "tests/cluster"],
        PATH="/nonexistent",
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "SKIPPED" in result.stdout
    assert "the one-node cluster cannot run here: the node needs the Debian packages" in (
        result.stdout
    )
