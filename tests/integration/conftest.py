"""Fixtures for the operator running as it would in production: a separate process, against
the local control plane and the Maskinporten stand-in."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import kubernetes
import pytest

from maskinporten_testbed.controlplane import free_port
from maskinporten_testbed.standin import StandinThread

from .helpers import Cluster

OPERATOR = str(Path(sys.executable).parent / "maskinporten-operator")
TEST_NAMESPACES = "test-*"


class OperatorProcess:
    """``maskinporten-operator run`` in a subprocess, logging to a file the tests can read."""

    def __init__(
        self,
        kubeconfig: Path,
        log: Path,
        settings: dict[str, str],
        args: tuple[str, ...] = ("--standalone",),
    ) -> None:
        self.log = log
        self.liveness = f"http://127.0.0.1:{free_port()}/healthz"
        metrics_port = settings.get("MASKINPORTEN_OPERATOR_METRICS_PORT", "8080")
        self.metrics = f"http://127.0.0.1:{metrics_port}/metrics"
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), **settings}
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [OPERATOR, "run", *args, f"--liveness={self.liveness}"],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_live()

    def _wait_until_live(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"operator exited with {self.process.returncode}:\n{self.logs()}"
                )
            try:
                if httpx.get(self.liveness, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"operator not live after {timeout:.0f} s:\n{self.logs()[-3000:]}")

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def operator_settings(standin: StandinThread, namespaces: str) -> dict[str, str]:
    return {
        "MASKINPORTEN_OPERATOR_ENVIRONMENT": "custom",
        "MASKINPORTEN_OPERATOR_ISSUER": standin.issuer,
        "MASKINPORTEN_OPERATOR_ALLOWED_ISSUERS": "http://allowed.invalid/",
        "MASKINPORTEN_OPERATOR_NAMESPACES": namespaces,
        "MASKINPORTEN_OPERATOR_RETRY_BASE_SECONDS": "1",
        "MASKINPORTEN_OPERATOR_RETRY_MAX_SECONDS": "4",
        "MASKINPORTEN_OPERATOR_TOKEN_REQUEST_TIMEOUT_SECONDS": "2",
        "MASKINPORTEN_OPERATOR_LOG_LEVEL": "DEBUG",
        "MASKINPORTEN_OPERATOR_METRICS_PORT": str(free_port()),
        "MASKINPORTEN_OPERATOR_ALTINN_EXCHANGE_URL": standin.altinn_exchange_url,
    }


@pytest.fixture(scope="session")
def operator(
    kubeconfig: Path,
    crd_installed: None,
    standin: StandinThread,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    running = OperatorProcess(kubeconfig, log, operator_settings(standin, TEST_NAMESPACES))
    yield running
    running.stop()


@pytest.fixture
def cluster(
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    namespace: str,
    operator: OperatorProcess,
) -> Cluster:
    """The test's namespace, watched by the running operator."""
    return Cluster(core, custom, namespace)


@pytest.fixture(autouse=True)
def _stand_in_without_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Faults injected by one test never leak into the next."""
    yield
    if "standin" in request.fixturenames:
        request.getfixturevalue("standin").clear_faults()
