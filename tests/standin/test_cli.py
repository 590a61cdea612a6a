"""``python -m maskinporten_testbed.standin`` serves until interrupted and prints its issuer."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx


def test_cli_prints_its_issuer_and_serves_configured_lifetimes_until_interrupted() -> None:
    command = [
        sys.executable,
        "-m",
        "maskinporten_testbed.standin",
        "--port",
        "0",
        "--lifetime",
        "demo:scope=600",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        issuer = process.stdout.readline().strip()
        metadata = httpx.get(f"{issuer}.well-known/oauth-authorization-server", timeout=10)
        lifetimes = httpx.put(f"{issuer}admin/lifetimes", json={}, timeout=10)
        process.send_signal(signal.SIGINT)
        returncode = process.wait(timeout=10)

    assert issuer.startswith("http://127.0.0.1:")
    assert issuer.endswith("/")
    assert metadata.json()["issuer"] == issuer
    assert lifetimes.json() == {"demo:scope": 600}
    assert returncode == 0
