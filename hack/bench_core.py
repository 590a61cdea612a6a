"""Figures for the core operator: apply-to-Ready latency, work per refresh, refresh timeline.

Runs the operator as a subprocess against the local control plane and the stand-in, and prints
numbers (no assertions: this machine is shared and noisy). Usage:
    .venv/bin/python hack/bench_core.py [--clients 20] [--lifetime 40] [--lifetimes 4]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import kubernetes

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.integration.helpers import SCOPE, Cluster, jwt_claims, provision, register  # noqa: E402

from maskinporten_operator.credentials.keys import ClientKey, generate_client_key  # noqa: E402
from maskinporten_testbed import binaries  # noqa: E402
from maskinporten_testbed.controlplane import LocalControlPlane  # noqa: E402
from maskinporten_testbed.operatorprocess import (  # noqa: E402
    TEST_SETTINGS,
    OperatorProcess,
    operator_settings,
)
from maskinporten_testbed.polling import eventually  # noqa: E402
from maskinporten_testbed.standin import StandinThread  # noqa: E402

NAMESPACE = "bench"
WRITE = re.compile(
    r'^apiserver_request_total\{[^}]*resource="(secrets|maskinportenclients)"[^}]*'
    r'verb="(POST|PUT|PATCH|DELETE|CREATE|UPDATE|APPLY)"[^}]*\} (\d+)',
    re.MULTILINE,
)


def api_writes(kubeconfig: Path) -> int:
    kubectl = [str(binaries.KUBERNETES.path("kubectl")), f"--kubeconfig={kubeconfig}"]
    metrics = subprocess.run(
        [*kubectl, "get", "--raw", "/metrics"], check=True, capture_output=True, text=True
    ).stdout
    return sum(int(count) for _, _, count in WRITE.findall(metrics))


def apply_to_ready(cluster: Cluster, standin: StandinThread, count: int) -> list[float]:
    durations = []
    for index in range(count):
        name = f"ready-{index}"
        key = generate_client_key()
        cluster.put_secret(f"{name}-maskinporten-key", {"jwk": key.private_jwk_json()})
        started = time.monotonic()
        provision_registered(cluster, standin, name, key)
        wait_ready(cluster, name, interval=0.02)
        durations.append(time.monotonic() - started)
    return durations


def wait_ready(cluster: Cluster, name: str, interval: float) -> None:
    eventually(
        lambda: cluster.condition(name).get("status") == "True",
        what=f"{name} Ready",
        timeout=120,
        interval=interval,
    )


def provision_registered(
    cluster: Cluster, standin: StandinThread, name: str, key: ClientKey
) -> None:
    client_id = f"bench-{name}"
    register(standin, client_id, key)
    cluster.create_client(name, {"clientId": client_id, "scopes": {"consumes": [{"name": SCOPE}]}})


def refresh_timeline(
    cluster: Cluster, standin: StandinThread, kubeconfig: Path, lifetime: int, lifetimes: int
) -> None:
    scope = "bench:timeline"
    standin.set_lifetime(scope, lifetime)
    client_id, _ = provision(cluster, standin, "timeline", scopes=(scope,))
    wait_ready(cluster, "timeline", interval=0.05)
    writes_before = api_writes(kubeconfig)
    requests_before = standin.token_request_count(client_id)
    start = time.time()
    seen: list[dict[str, int]] = []
    last = None
    while time.time() - start < lifetime * lifetimes:
        token = cluster.secret_data("timeline-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"]
        if token != last:
            claims = jwt_claims(token)
            seen.append({"iat": claims["iat"], "exp": claims["exp"], "written": int(time.time())})
            last = token
        time.sleep(0.1)
    refreshes = standin.token_request_count(client_id) - requests_before
    writes = api_writes(kubeconfig) - writes_before
    print(f"\nrefresh timeline, token lifetime {lifetime} s, {lifetimes} lifetimes:")
    print("  token  issued(+s)  expires(+s)  replaced(+s)  remaining-at-replacement(s)")
    for index, token in enumerate(seen):
        replaced = seen[index + 1]["iat"] if index + 1 < len(seen) else None
        remaining = token["exp"] - replaced if replaced else None
        print(
            f"  {index:5d}  {token['iat'] - int(start):10d}  {token['exp'] - int(start):11d}"
            f"  {'' if replaced is None else replaced - int(start):>12}"
            f"  {'' if remaining is None else remaining:>27}"
        )
    print(f"token requests: {refreshes} for {refreshes} refreshes")
    if refreshes:
        print(
            f"API-server writes (secrets + maskinportenclients): {writes} "
            f"= {writes / refreshes:.2f} per refresh"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--lifetime", type=int, default=40)
    parser.add_argument("--lifetimes", type=int, default=4)
    args = parser.parse_args()
    binaries.ensure_all()
    with LocalControlPlane() as plane, StandinThread() as standin:
        api = kubernetes.config.new_client_from_config(str(plane.kubeconfig))
        core, custom = kubernetes.client.CoreV1Api(api), kubernetes.client.CustomObjectsApi(api)
        kubectl = [str(binaries.KUBERNETES.path("kubectl")), f"--kubeconfig={plane.kubeconfig}"]
        subprocess.run(
            [*kubectl, "apply", "-f", str(REPO / "crds")], check=True, capture_output=True
        )
        subprocess.run(
            [*kubectl, "wait", "--for=condition=Established", "crd", "--all"],
            check=True,
            capture_output=True,
        )
        core.create_namespace({"metadata": {"name": NAMESPACE}})
        standin.set_lifetime(SCOPE, 3600)
        settings = {
            **operator_settings(standin, NAMESPACE),
            **TEST_SETTINGS,
            "MASKINPORTEN_OPERATOR_LOG_LEVEL": "INFO",
        }
        operator = OperatorProcess(plane.kubeconfig, plane.workdir / "operator.log", settings)
        try:
            cluster = Cluster(core, custom, NAMESPACE)
            # Keeps the start of the operator's watches out of the first measurement.
            provision(cluster, standin, "warm-up")
            wait_ready(cluster, "warm-up", interval=0.05)
            durations = apply_to_ready(cluster, standin, args.clients)
            print(
                f"apply to Ready, {len(durations)} resources, seconds: "
                f"median {statistics.median(durations):.3f}, min {min(durations):.3f}, "
                f"max {max(durations):.3f}"
            )
            print("  all: " + json.dumps([round(d, 3) for d in durations]))
            refresh_timeline(cluster, standin, plane.kubeconfig, args.lifetime, args.lifetimes)
        finally:
            operator.stop()


if __name__ == "__main__":
    main()
