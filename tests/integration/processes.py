"""The processes a test bed entry point started, read from /proc, to check that it stops them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Child:
    pid: int
    name: str
    start_time: str
    """Field 22 of /proc/PID/stat, so that a reused pid does not count as the same process."""

    def is_running(self) -> bool:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            return False
        state, start_time = fields[0], fields[19]
        return start_time == self.start_time and state != "Z"


def children(pid: int) -> list[Child]:
    """The processes ``pid`` started, each named by the program it runs (for a script run by
    Python through its ``#!`` line, the script's name)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            argv = Path(f"/proc/{child}/cmdline").read_bytes().decode().split("\0")
            stat = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            found.append(Child(int(child), _program(argv), stat[19]))
    return found


def _program(argv: list[str]) -> str:
    name = Path(argv[0]).name
    if name.startswith("python") and len(argv) > 1 and not argv[1].startswith("-"):
        return Path(argv[1]).name
    return name


def started_until_it_says(
    command: list[str], text: str, **options: Any
) -> tuple[subprocess.Popen[str], str]:
    """``command`` started in a session of its own (a signal sent to it reaches it alone, as
    ``kill PID`` does), its output read until a line holds ``text``: the process and what it
    said. When it ends without saying it, it is killed and the assertion shows its output."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        **options,
    )
    assert process.stdout is not None
    said = ""
    for line in process.stdout:
        said += line
        if text in line:
            return process, said
    process.kill()
    process.wait()
    raise AssertionError(f"it never said {text!r}:\n{said[-3000:]}")


def killed_with_children(process: subprocess.Popen[str], started: Iterable[Child] = ()) -> None:
    """After a test, whatever it did: ``process`` killed and reaped, and each of the processes
    it ``started`` that still runs killed (what a failed test must not leave behind)."""
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    process.wait()
    for child in started:
        if child.is_running():
            os.kill(child.pid, signal.SIGKILL)
