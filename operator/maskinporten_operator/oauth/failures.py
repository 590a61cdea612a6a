"""How a request to a server fails, told the same way for the authorization server
(:mod:`.authserver`) and Digdir's self-service API
(:mod:`maskinporten_operator.adapters.selfservice`). Without httpx: it works on statuses, texts
and exceptions only.
"""

from __future__ import annotations

from typing import TypeVar

_Error = TypeVar("_Error", bound=Exception)


def is_rejection(status: int) -> bool:
    """Whether an HTTP error status means the request was refused and a person must change
    something (4xx but 429); the rest (5xx, 429) is the server's trouble, and retrying later
    may help."""
    return 400 <= status < 500 and status != 429


def failure_summary(what: str, status: int, error: str | None, description: str | None) -> str:
    """One line for an HTTP error answer to the request ``what``: whether it was rejected, the
    status, and the server's ``error`` and ``error_description`` when it gave them."""
    verb = "rejected the request" if is_rejection(status) else "failed"
    summary = f"{what} {verb} (HTTP {status})"
    if error is not None:
        summary += f" {error}"
    if description is not None:
        summary += f": {description}"
    return summary


def copy_for_waiter(error: _Error) -> _Error:
    """A copy of ``error`` (same type, message and attributes) for one of the callers waiting
    on a request they share, so that each raises its own exception and they do not pile their
    tracebacks onto one."""
    copy = Exception.__new__(type(error), *error.args)
    copy.__dict__.update(vars(error))
    return copy
