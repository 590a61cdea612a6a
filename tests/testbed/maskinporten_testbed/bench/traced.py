"""``python -m maskinporten_testbed.bench.traced DIRECTORY ARGS…``: ``maskinporten-operator
ARGS…``, traced by :mod:`tracemalloc` (:data:`FRAMES` frames per allocation) from the first
SIGUSR1 on (tracing the start-up too makes it minutes long); each later SIGUSR1 writes a
snapshot of the live heap to ``DIRECTORY/<n>.snapshot`` (``.partial`` while it is written)."""

from __future__ import annotations

import gc
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

from maskinporten_operator.cli.main import main as operator_main

FRAMES = 15


def _trace_on_signal(directory: Path) -> None:
    count = 0

    def on_signal(_signal: int, _frame: FrameType | None) -> None:
        nonlocal count
        if not tracemalloc.is_tracing():
            tracemalloc.start(FRAMES)
            return
        count += 1
        gc.collect()
        partial = directory / f"{count}.partial"
        tracemalloc.take_snapshot().dump(str(partial))
        partial.rename(directory / f"{count}.snapshot")

    signal.signal(signal.SIGUSR1, on_signal)


def main() -> None:
    directory = Path(sys.argv[1])
    directory.mkdir(parents=True, exist_ok=True)
    _trace_on_signal(directory)
    operator_main(sys.argv[2:])


if __name__ == "__main__":
    main()
