"""``hack/run-demo --cluster``: the operator where users run it.

Brings up the one-node cluster, builds the operator image from the Dockerfile (cached), installs
the chart with Digdir's stand-ins reachable from pods, applies the sample managed client and a
busybox version of ``examples/workload.yaml`` (the curl image cannot be had without a registry)
that mounts the token Secret, and shows from inside the workload's pod the token's claims and
the seconds of validity it has left.
"""

from __future__ import annotations

import signal
import sys
import time

import yaml

from maskinporten_testbed.node import Node, NodeUnavailable, prepare
from maskinporten_testbed.node.images import BUSYBOX_IMAGE
from maskinporten_testbed.node.operator import ORG, digdir_in_node, install_operator
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.repository import EXAMPLES

SCOPE = "demo:weather.read"
TOKEN_LIFETIME_SECONDS = 120
"""The scope's cap (an API owner's ``at_max_age``) at Maskinporten's default lifetime: the demo's
managed client asks for more, and gets the 120 s most clients get (LifetimeSufficient says
what that means for pods reading the mounted file)."""
MOUNT = "/var/run/maskinporten"
SHOW_TOKEN = f"""payload=$(cut -d. -f2 {MOUNT}/MASKINPORTEN_ACCESS_TOKEN | tr '_-' '/+')
case $(( ${{#payload}} % 4 )) in 2) payload="$payload==" ;; 3) payload="$payload=" ;; esac
claims=$(echo "$payload" | base64 -d)
echo "$claims"
expires=$(echo "$claims" | sed 's/.*"exp": *\\([0-9]*\\).*/\\1/')
echo "validity left: $((expires - $(date +%s))) s"
"""
"""Run in the pod (busybox): decode the mounted token's claims, compute what is left of it."""
READ_LOOP = f"while true; do token=$(cat {MOUNT}/MASKINPORTEN_ACCESS_TOKEN); sleep 30; done"


def _say(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def workload() -> str:
    """examples/workload.yaml with the busybox image and its loop without curl."""
    deployment = yaml.safe_load((EXAMPLES / "workload.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    container.update(image=BUSYBOX_IMAGE, imagePullPolicy="Never", args=[READ_LOOP])
    return yaml.safe_dump(deployment)


def run(*, serve: bool) -> None:
    _say("Debian packages, node binaries and images (minutes on first use, cached after)")
    try:
        prepared = prepare()
    except NodeUnavailable as unavailable:
        sys.exit(f"hack/run-demo --cluster: {unavailable}")
    with Node(prepared.archives) as node, digdir_in_node(node) as digdir:
        digdir.maskinporten.set_lifetime(SCOPE, TOKEN_LIFETIME_SECONDS)
        digdir.selfservice.grant_scope_access(ORG, SCOPE)
        _say(f"node up ({node.timings['bring-up']:.0f} s); helm install of charts/")
        started = time.monotonic()
        install_operator(node, prepared.operator, digdir)
        _say(f"operator Ready ({time.monotonic() - started:.0f} s):")
        print(node.kubectl("get", "pods", "-A", "-o", "wide"), flush=True)
        _say("kubectl apply -f examples/maskinportenclient.yaml, and the workload")
        node.kubectl("apply", "-f", str(EXAMPLES / "maskinportenclient.yaml"))
        node.kubectl("wait", "--for=condition=Ready", "maskinportenclient/demo", "--timeout=180s")
        node.kubectl("apply", "-f", "-", stdin=workload())
        node.kubectl("rollout", "status", "deployment/weather-client", "--timeout=180s")
        _say("inside the workload's pod: the mounted token's claims and the validity left")
        shown = eventually(
            lambda: node.run(
                *("kubectl", "exec", "deployment/weather-client", "--", "sh", "-c", SHOW_TOKEN),
                check=False,
            ),
            what="the token read inside the pod",
        )
        print(shown, flush=True)
        if serve:
            command = " ".join(node.command(["kubectl", "get", "pods", "-A"]))
            _say(
                f"running; in another shell (KUBECONFIG={node.kubeconfig}, kubectl from "
                f"~/.cache/maskinporten-operator/bin):\n    {command}\n    Ctrl-C stops everything"
            )
            signal.pause()
