"""What the unit tests share besides fixtures."""

from __future__ import annotations

from datetime import UTC, datetime

ORG = "123456789"
NOW = datetime.now(UTC).replace(microsecond=0)
"""The unit tests' one instant: their CA issues certificates at it and the code under test
checks them at it, however long the test run has taken when a test gets there."""
