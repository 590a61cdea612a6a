"""The operator as a measured process: started for a namespace, its CPU and memory
(``/proc``), its metrics, and the token requests it made (the stand-in's log)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import httpx

from maskinporten_testbed.controlplane import LocalControlPlane
from maskinporten_testbed.operatorprocess import OperatorProcess, operator_settings
from maskinporten_testbed.standin import StandinThread

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def memory_mib(pid: int, field_name: str) -> float:
    """``VmHWM`` (peak RSS) or ``VmRSS`` of the process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def token_log_reset(standin: StandinThread) -> int:
    """Empty the stand-in's request log (it keeps the last 10,000) and return its count, 0: a
    phase counts its own token requests from here."""
    standin.clear_requests()
    return standin.request_count()


def start_operator(
    plane: LocalControlPlane, standin: StandinThread, namespace: str, profile: Path | None
) -> OperatorProcess:
    settings = {**operator_settings(standin, namespace), "MASKINPORTEN_OPERATOR_LOG_LEVEL": "INFO"}
    log = plane.workdir / f"operator-{namespace}-{time.time():.0f}.log"
    return OperatorProcess(plane.kubeconfig, log, settings, profile=profile)


def ready_count(operator: OperatorProcess) -> int:
    try:
        text = httpx.get(operator.metrics, timeout=10).text
    except httpx.TransportError:
        return 0
    return len(re.findall(r"^maskinporten_operator_ready\{[^}]*\} 1\.0$", text, re.MULTILINE))


def metric_sum(operator: OperatorProcess, name: str, **labels: str) -> float:
    text = httpx.get(operator.metrics, timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rpartition(" ")[2])
    return total
