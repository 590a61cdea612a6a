"""The node's processes, each tracked by PID and start time (a reused PID is never signalled)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from maskinporten_testbed.signals import STOP_SIGNALS, die_with_parent


@dataclass(frozen=True)
class Process:
    name: str
    pid: int
    started: int
    """``/proc/PID/stat`` start time."""

    @property
    def alive(self) -> bool:
        return start_time(self.pid) == self.started


def start_time(pid: int) -> int | None:
    """The start time of ``pid`` (None when it is gone or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else int(fields[19])


def _child_setup() -> None:
    """In the child: the stop signals unblocked (the mask is inherited) and death with the
    parent (a SIGKILLed test bed leaves no node process running)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    die_with_parent()


@dataclass
class ProcessTable:
    """Every process the node started, in start order; their output goes to ``logs``."""

    logs: Path
    processes: list[Process] = field(default_factory=list)

    def spawn(self, name: str, command: list[str]) -> Process:
        """Start ``command`` in a session of its own. The stop signals are blocked meanwhile:
        one arriving between the start and the record would leave an untracked process."""
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            with (self.logs / f"{name}.log").open("ab") as output:
                popen = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_child_setup,
                )
            started = start_time(popen.pid)
            if started is None:
                raise RuntimeError(f"{name} exited at once; see {self.logs / name}.log")
            process = Process(name, popen.pid, started)
            self.processes.append(process)
            return process
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    def named(self, name: str) -> Process | None:
        return next((p for p in self.processes if p.name == name), None)

    def log_tail(self, name: str, characters: int = 3000) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-characters:]

    def check_running(self, what: str) -> None:
        """Raise, with its log's tail, if a process exited (while waiting for ``what``)."""
        for process in self.processes:
            if not process.alive:
                tail = self.log_tail(process.name)
                raise RuntimeError(f"{process.name} exited while waiting for {what}:\n{tail}")


def stop(process: Process, *, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; only while the PID is still ``process``."""
    for stop_signal, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if not process.alive:
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, stop_signal)
        deadline = time.monotonic() + wait
        while process.alive and time.monotonic() < deadline:
            reap(process.pid)
            time.sleep(0.05)
    reap(process.pid)
    if process.alive:
        raise RuntimeError(f"{process.name} (PID {process.pid}) survived SIGKILL")


def reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
