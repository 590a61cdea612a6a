"""Stopping what the test bed started, whatever stops the test bed.

Every entry point (the control plane, the demo, the benchmark; the test suite through
``tests/conftest.py``) turns SIGINT, SIGTERM and SIGHUP into an exception in the main thread, so
that the clean-up of its ``with`` blocks and ``finally`` clauses runs: each process it started is
stopped by PID. And each child process is started with :func:`die_with_parent`, so that even a
SIGKILL of the test bed does not leave it running.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


class StopSignal(BaseException):
    """Raised in the main thread by the first of ``STOP_SIGNALS``, wherever it is, so that the
    clean-up of ``with`` blocks and ``except BaseException`` handlers runs (a BaseException, like
    KeyboardInterrupt, so that ``except Exception`` does not swallow it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop(signum: int, _: object) -> None:
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)  # a second signal must not cut clean-up short
    raise StopSignal(signum)


@contextlib.contextmanager
def stopped_by_signals() -> Iterator[None]:
    """Within: the first stop signal raises :class:`StopSignal`; leaving on it is a normal exit
    (the clean-up of what is inside has run). The handlers before are restored after."""
    before = {stop_signal: signal.getsignal(stop_signal) for stop_signal in STOP_SIGNALS}
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, _stop)
    try:
        yield
    except StopSignal:
        pass
    finally:
        for stop_signal, handler in before.items():
            signal.signal(stop_signal, handler)


def die_with_parent() -> None:
    """For ``subprocess.Popen(preexec_fn=...)``: the child gets SIGTERM when its parent dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
