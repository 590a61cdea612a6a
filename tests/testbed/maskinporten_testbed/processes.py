"""Server processes the test bed starts: each in a session of its own, so that stopping it stops
the children it started too (Keycloak's launch script runs Java), and told to stop when the
process that started them dies (``PR_SET_PDEATHSIG``), so that an interrupted run leaves none."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from maskinporten_testbed.polling import eventually
from maskinporten_testbed.signals import die_with_parent


def spawn(
    command: Sequence[str], *, log: Path, env: Mapping[str, str], cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """``command`` in a new session, its output in ``log``."""
    with log.open("wb") as output:
        return subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )


def stop(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Stop ``process`` and every process of its session: SIGTERM, then SIGKILL after
    ``timeout`` seconds."""
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait()
    _signal_group(process, signal.SIGKILL)  # whatever of the session outlived its leader


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def wait_serving(
    url: str, process: subprocess.Popen[bytes], log: Path, *, what: str, timeout: float
) -> None:
    """Until ``url`` answers 200; raises with the log's tail if the process exits first or the
    time runs out."""

    def serving() -> bool:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{tail}")
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        eventually(serving, what=f"{what} serving {url}", timeout=timeout, interval=0.5)
    except TimeoutError as error:
        tail = log.read_text(errors="replace")[-3000:]
        raise TimeoutError(f"{error}:\n{tail}") from None
