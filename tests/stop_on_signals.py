"""A pytest plugin: SIGTERM and SIGHUP stop the run as Ctrl-C does.

pytest then tears the fixtures down, so the control plane, stand-ins and operators they started
are stopped (and each process the test bed starts dies with its parent, for a SIGKILL). Loaded
by ``tests/conftest.py``; ``-p tests.stop_on_signals`` loads it alone.
"""

from __future__ import annotations

import signal

import pytest


def _interrupt(signum: int, _: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def pytest_configure(config: pytest.Config) -> None:
    for stop_signal in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, _interrupt)
