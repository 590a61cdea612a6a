"""Handing freed heap memory back to the system, on a thread of its own.

glibc's ``free`` returns memory to the system only from the top of its heap; pages freed in
the middle (the Secret list at start-up, the responses of a burst of creations, all freed while
long-lived objects were allocated after them) stay in the resident set until
``malloc_trim`` hands them back. With 5,000 clients, that was ~85 MiB of freed heap, of which a
trim returned ~20 MiB of RSS (hack/bench, steady state). A trim takes milliseconds and never
runs on the event loop. Without glibc (musl, macOS) there is nothing to call, and nothing runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import threading
from collections.abc import Callable, Iterator

TRIM_INTERVAL_SECONDS = 60.0


def glibc_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim(pad)``, or None when the C library has none."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


@contextlib.contextmanager
def trimming_memory(
    interval_seconds: float = TRIM_INTERVAL_SECONDS,
    trim: Callable[[int], int] | None = None,
) -> Iterator[None]:
    """While in the block, ``trim(0)`` (default: :func:`glibc_malloc_trim`) every
    ``interval_seconds`` on a daemon thread; the thread ends with the block."""
    trim = trim or glibc_malloc_trim()
    if trim is None:
        yield
        return
    stopping = threading.Event()

    def trim_until_stopped() -> None:
        while not stopping.wait(interval_seconds):
            trim(0)

    thread = threading.Thread(target=trim_until_stopped, name="malloc-trim", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopping.set()
        thread.join()
