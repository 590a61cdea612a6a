"""RFC 3339 timestamps: whole seconds, rounded down."""

from __future__ import annotations

from maskinporten_operator.rfc3339 import format_time, parse_time

MOMENT = 1_764_428_400.0
"""2025-11-29T15:00:00Z"""


def test_format_rounds_down_so_a_published_expiry_is_never_later_than_the_real_one() -> None:
    assert format_time(MOMENT + 0.999) == "2025-11-29T15:00:00Z"


def test_parse_reads_what_format_writes() -> None:
    assert parse_time(format_time(MOMENT)) == MOMENT
