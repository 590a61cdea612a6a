"""What tests in several directories share besides fixtures."""

from __future__ import annotations

from datetime import UTC, datetime

ORG = "123456789"
"""The organisation the test CA's business certificate is issued to."""

NOW = datetime.now(UTC).replace(microsecond=0)
"""The test CA's one instant: it issues certificates at it, and the unit tests check them at it,
however long the test run has taken when a test gets there."""
