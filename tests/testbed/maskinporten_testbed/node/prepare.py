"""Everything the node needs before it starts, each step skipped when done: the Debian packages,
the binaries, the images. Slow the first time (minutes), so ``hack/run-tests`` runs it before
pytest, where its progress shows (``python -m maskinporten_testbed.node``)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from maskinporten_testbed import binaries

from . import images
from .errors import NodeUnavailable
from .packages import install_packages
from .prerequisites import check_prerequisites


@dataclass(frozen=True)
class NodeImages:
    shell_and_pause: Path
    operator: images.OperatorImage

    @property
    def archives(self) -> list[Path]:
        return [self.shell_and_pause, self.operator.archive]


def prepare() -> NodeImages:
    """Install, build and check; raise :class:`NodeUnavailable` naming what the machine lacks
    (nothing is started)."""
    if sys.platform != "linux":
        raise NodeUnavailable("the node runs on Linux only")
    install_packages()
    try:
        binaries.ensure_all(binaries.NODE_TOOL_SETS)
    except RuntimeError as cannot_build:  # no Go, or the module proxy unreachable
        raise NodeUnavailable(str(cannot_build)) from None
    check_prerequisites()
    return NodeImages(images.shell_and_pause(), images.operator_image())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args()
    try:
        prepared = prepare()
    except NodeUnavailable as unavailable:
        print(f"[node] the cluster tests will be skipped: {unavailable}", file=sys.stderr)
        return
    print(f"[node] ready; operator image {prepared.operator.name}", file=sys.stderr)
