"""The operator as it runs in production: ``maskinporten-operator run`` in a subprocess, against a
cluster and the Maskinporten stand-in. Shared by the tests, the demo and the benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from maskinporten_testbed.network import free_port
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.signals import die_with_parent
from maskinporten_testbed.standin import StandinThread

OPERATOR = str(Path(sys.executable).parent / "maskinporten-operator")
TRACED = "maskinporten_testbed.bench.traced"
TEST_SETTINGS = {
    "MASKINPORTEN_OPERATOR_RETRY_BASE_SECONDS": "1",
    "MASKINPORTEN_OPERATOR_RETRY_MAX_SECONDS": "4",
    "MASKINPORTEN_OPERATOR_TOKEN_REQUEST_TIMEOUT_SECONDS": "2",
    "MASKINPORTEN_OPERATOR_LOG_LEVEL": "DEBUG",
}
"""Retries within seconds, so that tests see recovery soon, and every log line, so that they
can check what is (not) logged."""


QUICK_ELECTION = {
    "MASKINPORTEN_OPERATOR_LEADER_ELECTION_LEASE_DURATION_SECONDS": "6",
    "MASKINPORTEN_OPERATOR_LEADER_ELECTION_RENEW_DEADLINE_SECONDS": "4",
    "MASKINPORTEN_OPERATOR_LEADER_ELECTION_RETRY_PERIOD_SECONDS": "1",
}
"""A new Lease, or one a killed operator held, is taken within seconds (the defaults: 15 s)."""


def operator_settings(standin: StandinThread, namespaces: str) -> dict[str, str]:
    """The operator's environment for ``standin`` as its authorization server, watching
    ``namespaces`` (a name, a comma-separated list or a glob), with metrics on a free port,
    electing its leader through a Lease of its own in ``default`` (so that operators started
    with other settings never contend with it) with :data:`QUICK_ELECTION` timings."""
    return {
        "MASKINPORTEN_OPERATOR_LEADER_ELECTION_NAMESPACE": "default",
        "MASKINPORTEN_OPERATOR_LEADER_ELECTION_LEASE_NAME": f"operator-{uuid.uuid4().hex[:8]}",
        **QUICK_ELECTION,
        "MASKINPORTEN_OPERATOR_ENVIRONMENT": "custom",
        "MASKINPORTEN_OPERATOR_ISSUER": standin.issuer,
        "MASKINPORTEN_OPERATOR_ALLOWED_ISSUERS": "http://allowed.invalid/",
        "MASKINPORTEN_OPERATOR_NAMESPACES": namespaces,
        "MASKINPORTEN_OPERATOR_METRICS_PORT": str(free_port()),
        "MASKINPORTEN_OPERATOR_ALTINN_EXCHANGE_URL": standin.altinn_exchange_url,
    }


LEADING = "started leading"
"""The operator's log line when it becomes the leader and starts acting."""


class OperatorProcess:
    """``maskinporten-operator run`` in a subprocess, logging to a file; live once constructed,
    and the leader too unless told ``leading=False`` (a replica that may stand by)."""

    def __init__(
        self,
        kubeconfig: Path,
        log: Path,
        settings: dict[str, str],
        args: tuple[str, ...] = (),
        timeout: float = 60.0,
        profile: Path | None = None,
        heap_snapshots: Path | None = None,
        *,
        leading: bool = True,
    ) -> None:
        """``profile``: run the operator under cProfile, which writes its statistics there
        when the operator stops (only the main thread, where the event loop runs).
        ``heap_snapshots``: run it under tracemalloc, SIGUSR1 writing a snapshot of its heap
        into that directory (:mod:`maskinporten_testbed.bench.traced`); not both."""
        if profile and heap_snapshots:
            raise ValueError("profile or heap_snapshots, not both")
        self.log = log
        self.liveness = f"http://127.0.0.1:{free_port()}/healthz"
        metrics_port = settings.get("MASKINPORTEN_OPERATOR_METRICS_PORT", "8080")
        self.metrics = f"http://127.0.0.1:{metrics_port}/metrics"
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), **settings}
        profiler = [sys.executable, "-m", "cProfile", "-o", str(profile)] if profile else []
        traced = [sys.executable, "-m", TRACED, str(heap_snapshots)] if heap_snapshots else []
        operator = traced or [OPERATOR]
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [*profiler, *operator, "run", *args, f"--liveness={self.liveness}"],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        try:
            eventually(self._live, what=f"the operator live at {self.liveness}", timeout=timeout)
            if leading:
                eventually(self.leads, what="the operator to lead", timeout=timeout)
        except TimeoutError as error:
            self.stop()
            raise TimeoutError(f"{error}:\n{self.logs()[-3000:]}") from None

    def _live(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"operator exited with {self.process.returncode}:\n{self.logs()}")
        try:
            return httpx.get(self.liveness, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def leads(self) -> bool:
        """Whether its log says it leads now (its last transition was to leading)."""
        text = self.logs()
        return text.rfind(LEADING) > text.rfind("stopped leading")

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def metric(self, sample: str, /, **labels: str) -> float | None:
        """The value of ``sample`` with exactly ``labels``; None while there is none (or while
        the metrics endpoint is not serving yet)."""
        try:
            text = httpx.get(self.metrics, timeout=5).text
        except httpx.ConnectError:
            return None
        wanted = labels.items()
        return next(
            (
                found.value
                for family in text_string_to_metric_families(text)
                for found in family.samples
                if found.name == sample and found.labels.items() == wanted
            ),
            None,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
