"""Image builds that fail say which step and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from maskinporten_testbed.node.images import ImageBuildFailed, run_step


def test_a_failing_image_step_names_the_step_and_ends_with_its_output(tmp_path: Path) -> None:
    failing = ["sh", "-c", "echo 'E: no mirror reachable'; exit 3"]

    with pytest.raises(ImageBuildFailed) as failed:
        run_step("debootstrap", failing, tmp_path / "build.log")

    assert str(failed.value).startswith("image step 'debootstrap' failed (exit 3):")
    assert str(failed.value).rstrip().endswith("E: no mirror reachable")
