"""What a command loads: the token tool runs without the operator's machinery."""

from __future__ import annotations

import subprocess
import sys

OPERATOR_MACHINERY = (
    "kopf",
    "prometheus_client",
    "maskinporten_operator.reconcile",
    "maskinporten_operator.runtime",
)


def test_the_command_loads_no_operator_machinery_until_it_runs_the_operator() -> None:
    probe = (
        "import sys, maskinporten_operator.cli.main\n"
        f"print(' '.join(m for m in {OPERATOR_MACHINERY!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()

    assert loaded == []
