"""Where the repository's files that the test bed applies are (it runs from a checkout only)."""

from __future__ import annotations

from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[3]
CRDS = REPOSITORY / "crds"
EXAMPLES = REPOSITORY / "examples"
