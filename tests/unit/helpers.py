"""What the unit tests share besides fixtures."""

from __future__ import annotations

ORG = "123456789"
