"""RFC 3339 timestamps as the operator writes them: UTC, whole seconds, ``Z`` suffix."""

from __future__ import annotations

import math
from datetime import UTC, datetime

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_time(timestamp: float) -> str:
    """Unix time (seconds) as ``2026-11-29T15:00:00Z``, rounded down: a published expiry is
    never later than the real one."""
    return datetime.fromtimestamp(math.floor(timestamp), UTC).strftime(FORMAT)


def parse_time(value: str) -> float:
    """The Unix time of a :func:`format_time` string; ValueError for any other shape."""
    return datetime.strptime(value, FORMAT).replace(tzinfo=UTC).timestamp()
