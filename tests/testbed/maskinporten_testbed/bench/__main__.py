"""The scale benchmark: ``python -m maskinporten_testbed.bench --help``."""

from __future__ import annotations

from .cli import main

main()
