"""Freed heap memory handed back to the system on a thread of its own, while the operator runs."""

from __future__ import annotations

import threading

from maskinporten_operator.runtime.trim import glibc_malloc_trim, trimming_memory
from maskinporten_testbed.polling import eventually


class Trims:
    def __init__(self) -> None:
        self.pads: list[int] = []
        self.threads: set[str] = set()

    def __call__(self, pad: int) -> int:
        self.pads.append(pad)
        self.threads.add(threading.current_thread().name)
        return 1


def test_memory_is_trimmed_repeatedly_on_a_thread_of_its_own() -> None:
    trims = Trims()

    with trimming_memory(0.001, trims):
        eventually(lambda: len(trims.pads) >= 3, what="three trims", interval=0.001)

    assert set(trims.pads) == {0}
    assert trims.threads == {"malloc-trim"}


def test_trimming_ends_with_the_block() -> None:
    trims = Trims()

    with trimming_memory(0.001, trims):
        eventually(lambda: trims.pads, what="a trim", interval=0.001)
    after = len(trims.pads)

    assert "malloc-trim" not in {thread.name for thread in threading.enumerate()}
    assert len(trims.pads) == after


def test_glibc_has_malloc_trim() -> None:
    """The operator's image and this machine run on glibc."""
    assert glibc_malloc_trim() is not None
