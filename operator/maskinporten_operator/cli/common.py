"""The command-line tools next to ``run``: ``token`` and ``keygen``.

Each subcommand module has ``add_parser(subparsers)``, which registers the command and its
``main(args) -> exit code``. Messages go to stderr; stdout carries only what was asked for.
"""

from __future__ import annotations

import sys
from pathlib import Path

EXIT_OK = 0
EXIT_REFUSED = 1
"""The authorization server refused the request (4xx: invalid_grant, invalid_scope, ...)."""
EXIT_USAGE = 2
"""Bad flags or input: missing settings, unreadable files, invalid keys or certificates."""
EXIT_UNREACHABLE = 3
"""The authorization server could not be reached, failed (5xx) or answered nonsense."""
EXIT_KUBERNETES = 4
"""The Kubernetes API could not be reached or refused a call."""


class CommandError(Exception):
    """Ends a command with ``exit_code``; the message says what is wrong, ``hint`` what to do."""

    def __init__(self, message: str, *, exit_code: int = EXIT_USAGE, hint: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.hint = hint


def report(command: str, error: CommandError) -> int:
    print(f"maskinporten-operator {command}: error: {error}", file=sys.stderr)
    if error.hint:
        print(f"hint: {error.hint}", file=sys.stderr)
    return error.exit_code


def warn(command: str, message: str) -> None:
    print(f"maskinporten-operator {command}: warning: {message}", file=sys.stderr)


def read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CommandError(f"cannot read {what} {path}: {error.strerror}") from None


def read_password_file(path: Path) -> bytes:
    """The file's content without one trailing line break (as ``echo pw > file`` leaves it)."""
    data = read_file(path, "password file")
    return data.removesuffix(b"\n").removesuffix(b"\r")


def parse_object_ref(value: str) -> tuple[str, str]:
    """``NAMESPACE/NAME`` as (namespace, name)."""
    namespace, _, name = value.partition("/")
    if not namespace or not name or "/" in name:
        raise CommandError(f"expected NAMESPACE/NAME, got {value!r}")
    return namespace, name
