"""The fault suite's test bed: the operator as a subprocess on the real control plane, its own
namespaces, the figures each case prints, and what the secret scan looks through afterwards.

Verdicts never depend on the machine's speed: a case asserts counts (Secrets lost, keys
regenerated, crashes, leaks) and states reached within generous deadlines; durations are only
measured and printed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from maskinporten_testbed.operatorprocess import TEST_SETTINGS, OperatorProcess, operator_settings
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread
from tests.helpers import decode_jwt
from tests.integration.helpers import GROUP, PLURAL, VERSION, Cluster

LONG = os.environ.get("MASKINPORTEN_FAULTS", "short") == "long"
"""``MASKINPORTEN_FAULTS=long`` (``hack/faults``): more resources, more kills, longer faults."""


def scaled(short: int, long: int) -> int:
    return long if LONG else short


BRIEF_SCOPE = "fault:brief"
"""Tokens that live ``BRIEF_LIFETIME`` seconds: refreshed, and expiring, within a case."""
BRIEF_LIFETIME = scaled(30, 120)
QUICK_SCOPE = "fault:quick"
"""Tokens that live ``QUICK_LIFETIME`` seconds: refreshed every few seconds during a case."""
QUICK_LIFETIME = 20
MINUTE_SCOPE = "fault:minute"
"""Tokens that live ``MINUTE_LIFETIME`` seconds, refreshed every half minute or so."""
MINUTE_LIFETIME = 60
LASTING_SCOPE = "fault:lasting"
"""Tokens that outlive every case: still valid whatever happens."""
LASTING_LIFETIME = 3600

RETRY_BASE_SECONDS = 2
FAULT_SETTINGS = {
    **TEST_SETTINGS,
    "MASKINPORTEN_OPERATOR_RETRY_BASE_SECONDS": str(RETRY_BASE_SECONDS),
    "MASKINPORTEN_OPERATOR_RETRY_MAX_SECONDS": "8",
}
"""Retries within seconds (and every log line, DEBUG included, for the secret scan)."""

TIMEOUT = scaled(600, 7200)
"""pytest-timeout of one case: the long form kills the operator 50 times in one."""
DEADLINE = 180.0
"""How long a case waits for a state before it fails: generous, a busy machine only waits."""

CRASH_MARKERS = (
    "Traceback",
    "failed with an exception",  # kopf: a handler raised; it retries it
    "ended by an exception",  # runtime/supervisor.py: a loop raised; its next event restarts it
    "failed temporarily",
    "failed permanently",
    "did not exit in time",
    "unexpected ",  # the operator's own last-resort boundary (runtime/loop.py)
)
LOOP_RESTART_MARKERS = CRASH_MARKERS[1:3]
PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")


def report(case: str, **figures: object) -> str:
    """Print the case's one line of figures (shown by ``pytest -s``, ``-rA`` and hack/faults)."""
    shown = " ".join(f"{name}={_shown(value)}" for name, value in figures.items())
    line = f"FAULT {case}: {shown}"
    print(line, flush=True)
    return line


def _shown(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, list | tuple):
        return ",".join(_shown(v) for v in value) or "-"
    return str(value)


CRASH_CONTEXT_LINES = 25
"""How many log lines after a crash's first line an assertion shows (a traceback's frames)."""


def crashes(log: str, markers: tuple[str, ...] = CRASH_MARKERS) -> list[str]:
    """Each crash in the operator's log (a traceback, a handler's or a loop's exception): the
    line that shows it and the lines after it, so that a failing assertion says where it
    happened."""
    lines = log.splitlines()
    return [
        "\n".join(lines[at : at + CRASH_CONTEXT_LINES])
        for at, line in enumerate(lines)
        if any(m in line for m in markers)
    ]


def summary(seconds: list[float]) -> str:
    if not seconds:
        return "-"
    return f"max {max(seconds):.1f} mean {sum(seconds) / len(seconds):.1f}"


_BASE64URL_RUN = re.compile(r"[A-Za-z0-9_-]{40,}")


@dataclass
class Exposure:
    """Everything the operator wrote where people look (logs, Events, status), and every secret
    the suite handed it or it made; the secret scan looks for the second in the first."""

    texts: dict[str, str] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)

    def add_text(self, where: str, text: str) -> None:
        self.texts[where] = self.texts.get(where, "") + text

    def hits(self, extra_secrets: set[str]) -> list[tuple[str, str]]:
        """(where, the first characters of the secret) for every secret found in a text."""
        secrets = {s for s in self.secrets | extra_secrets if len(s) >= 40}
        found: list[tuple[str, str]] = []
        for where, text in self.texts.items():
            runs = set(_BASE64URL_RUN.findall(text))
            found += [(where, s[:12]) for s in secrets if s in runs]
            found += [(where, s[:12]) for s in secrets if s not in runs and s in text]
        return found


def private_parameters(data: dict[str, str]) -> set[str]:
    """The private-key parameters (a JWK's d, p, q, dp, dq, qi) in a Secret's decoded data, and
    the access tokens' signatures in it."""
    found: set[str] = set()
    for value in data.values():
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            found |= {str(parsed[m]) for m in PRIVATE_JWK_MEMBERS if m in parsed}
        if "PRIVATE KEY" in value:
            found |= _pem_parameters(value)
        if value.count(".") == 2 and len(value) > 100:
            found.add(value.split(".")[2])
    return found


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _pem_parameters(pem: str) -> set[str]:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        return set()
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        numbers = (n.d, n.p, n.q, n.dmp1, n.dmq1, n.iqmp)
        return {_b64(x) for x in numbers}
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {_b64(key.private_numbers().private_value)}
    return set()


class FaultBed:
    """One case's world: namespaces named after it, watched by its own operator process."""

    def __init__(
        self,
        core: kubernetes.client.CoreV1Api,
        custom: kubernetes.client.CustomObjectsApi,
        kubeconfig: Path,
        standin: StandinThread,
        directory: Path,
        exposure: Exposure,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.core, self.custom, self.kubeconfig = core, custom, kubeconfig
        self.standin = standin
        self.directory = directory
        self.exposure = exposure
        self.prefix = f"fault-{uuid.uuid4().hex[:8]}"
        self.namespaces: list[str] = []
        self.settings = {
            **operator_settings(standin, f"{self.prefix}-*"),
            **FAULT_SETTINGS,
            **(settings or {}),
        }
        self.operators: list[OperatorProcess] = []

    # The operator

    @property
    def operator(self) -> OperatorProcess:
        return self.operators[-1]

    def start_operator(self, *, leading: bool = True) -> OperatorProcess:
        """Another replica (with the same Lease as the others); once it leads, unless
        ``leading`` is False (it may stand by)."""
        log = self.directory / f"operator-{len(self.operators)}.log"
        self.operators.append(OperatorProcess(self.kubeconfig, log, self.settings, leading=leading))
        return self.operator

    def live_operators(self) -> list[OperatorProcess]:
        return [operator for operator in self.operators if operator.process.poll() is None]

    def kill_operator(self) -> None:
        """SIGKILL: no clean-up, no last status write, as when a node dies."""
        self.operator.process.kill()
        self.operator.process.wait(timeout=30)

    def logs(self) -> str:
        return "".join(operator.logs() for operator in self.operators)

    # Namespaces

    def namespace(self, suffix: str = "a") -> Cluster:
        name = f"{self.prefix}-{suffix}"
        self.core.create_namespace({"metadata": {"name": name}})
        self.namespaces.append(name)
        return Cluster(self.core, self.custom, name)

    def ready_within(
        self,
        cluster: Cluster,
        names: list[str],
        *,
        since: float | Mapping[str, float] | None = None,
        timeout: float = DEADLINE,
    ) -> dict[str, float]:
        """Wait until every resource of ``names`` is Ready=True (with a token issued at or after
        ``since``, when given: one time for all, or one per name); the seconds each took, as
        observed by polling."""
        wanted = since if isinstance(since, Mapping) else dict.fromkeys(names, since)
        started = time.time()
        took: dict[str, float] = {}

        def all_ready() -> bool:
            for name in names:
                if name in took:
                    continue
                ready = cluster.condition(name)
                if ready.get("status") != "True":
                    continue
                fresh_since = wanted.get(name)
                if fresh_since is not None and written_at(cluster, name) < int(fresh_since):
                    continue
                took[name] = time.time() - started
            return len(took) == len(names)

        eventually(all_ready, what=f"{len(names)} resources Ready", timeout=timeout, interval=0.5)
        return took

    # Clean-up, and what the secret scan will read

    def collect(self) -> None:
        """Add this case's logs, Events, status and Secrets to the exposure."""
        for operator in self.operators:
            self.exposure.add_text(str(operator.log), operator.logs())
        for namespace in self.namespaces:
            try:
                events = self.core.list_namespaced_event(namespace).items
                secrets = self.core.list_namespaced_secret(namespace).items
                clients = self.custom.list_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL
                )["items"]
            except kubernetes.client.ApiException:
                continue
            described = [self.core.api_client.sanitize_for_serialization(e) for e in events] + [
                c.get("status", {}) for c in clients
            ]
            self.exposure.add_text(f"{namespace} Events and status", json.dumps(described))
            for secret in secrets:
                data = {
                    k: base64.b64decode(v).decode(errors="replace")
                    for k, v in (secret.data or {}).items()
                }
                self.exposure.secrets |= private_parameters(data)

    def close(self) -> None:
        """Collect, delete the namespaces' resources while an operator runs (their finalizers),
        then stop it and delete the namespaces."""
        self.collect()
        if not self.operators or self.operator.process.poll() is not None:
            self.start_operator()
        for namespace in self.namespaces:
            try:
                self.custom.delete_collection_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL
                )
            except kubernetes.client.ApiException as error:
                if error.status != 404:
                    raise

        def resources_gone() -> bool:
            return all(not _clients(self.custom, n) for n in self.namespaces)

        eventually(resources_gone, what="the case's resources deleted", timeout=DEADLINE)
        self.collect_logs_only()
        for operator in self.operators:
            operator.stop()
        for namespace in self.namespaces:
            try:
                self.core.delete_namespace(namespace)
            except kubernetes.client.ApiException as error:
                if error.status != 404:
                    raise

    def collect_logs_only(self) -> None:
        for operator in self.operators:
            self.exposure.texts[str(operator.log)] = operator.logs()


def _clients(custom: kubernetes.client.CustomObjectsApi, namespace: str) -> list[Any]:
    try:
        items: list[Any] = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)[
            "items"
        ]
    except kubernetes.client.ApiException as error:
        if error.status == 404:
            return []
        raise
    return items


def token_of(cluster: Cluster, name: str) -> str | None:
    secret = cluster.secret(f"{name}-maskinporten")
    if secret is None:
        return None
    value = (secret.get("data") or {}).get("MASKINPORTEN_ACCESS_TOKEN")
    return base64.b64decode(value).decode() if value else None


def written_at(cluster: Cluster, name: str) -> float:
    """When the token now in the resource's workload Secret was issued (0 when there is none)."""
    token = token_of(cluster, name)
    if token is None:
        return 0.0
    return float(decode_jwt(token).claims["iat"])


def secret_names(cluster: Cluster) -> set[str]:
    return {s.metadata.name for s in cluster.core.list_namespaced_secret(cluster.namespace).items}


def key_ids(cluster: Cluster) -> dict[str, str]:
    """Each key Secret's name and the ``kid`` of the JWK in it (generated keys are JWKs)."""
    found: dict[str, str] = {}
    for secret in cluster.core.list_namespaced_secret(cluster.namespace).items:
        raw = (secret.data or {}).get("jwk")
        if raw:
            jwk = json.loads(base64.b64decode(raw))
            found[secret.metadata.name] = str(jwk.get("kid"))
    return found
