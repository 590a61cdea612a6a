"""Whether this machine's clock disagrees with a server's, told from the server's HTTP ``Date``.

A grant's ``iat`` and ``exp`` are checked by the authorization server's clock (Maskinporten
accepts an ``iat`` within 10 s of its own: ``docs/maskinporten-facts.md``, "The JWT grant"), so
when a request is refused and the clocks differ by more than a few seconds, that is the likely
cause, whatever the server's text says.
"""

from __future__ import annotations

from datetime import UTC
from email.utils import parsedate_to_datetime

from maskinporten_operator.rfc3339 import format_time

CLOCK_SKEW_LIMIT_SECONDS = 5.0
"""Clocks further apart than this (seconds) are reported; the ``Date`` header has whole seconds
and the answer takes a moment to arrive, so a smaller difference says nothing."""


def clock_skew_note(date_header: str | None, now: float) -> str:
    """A sentence saying how far this machine's clock (``now``, Unix time when the answer
    arrived) is from the server's ``Date`` (RFC 9110 section 5.6.7), with both times; "" when
    they are within :data:`CLOCK_SKEW_LIMIT_SECONDS` or the header is missing or unreadable."""
    server = _server_time(date_header)
    if server is None or abs(now - server) <= CLOCK_SKEW_LIMIT_SECONDS:
        return ""
    direction = "ahead of" if now > server else "behind"
    return (
        f"this machine's clock is {abs(now - server):.0f} s {direction} the server's (here "
        f"{format_time(now)}, server {format_time(server)}): the server checks a grant's iat and "
        "exp by its own clock; synchronise this machine's clock (NTP)"
    )


def _server_time(date_header: str | None) -> float | None:
    if not date_header:
        return None
    try:
        moment = parsedate_to_datetime(date_header)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
