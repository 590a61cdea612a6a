"""The README's run command: the operator end to end on a local control plane and stand-in.

Starts etcd + kube-apiserver + kube-controller-manager, the Maskinporten stand-in, installs the
CRD, runs the operator, applies ``examples/maskinportenclient.yaml``, registers the generated
public key at the stand-in (as a person would in Digdir's self-service portal), and shows the
resource Ready with the decoded claims of the token in its Secret.
"""

from __future__ import annotations

import argparse
import base64
import json
import signal
import subprocess
import time
from pathlib import Path

from maskinporten_testbed import binaries
from maskinporten_testbed.controlplane import LocalControlPlane
from maskinporten_testbed.operatorprocess import OperatorProcess, operator_settings
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import Client, RegisteredKey, StandinThread

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "maskinportenclient.yaml"
CLIENT_ID = "demo-client"
SCOPE = "demo:weather.read"
TOKEN_LIFETIME_SECONDS = 300


def _say(message: str) -> None:
    print(f"\n==> {message}", flush=True)


class Demo:
    def __init__(self, plane: LocalControlPlane) -> None:
        self.plane = plane
        self.kubectl = str(binaries.KUBERNETES.path("kubectl"))

    def run_kubectl(self, *args: str, show: bool = True) -> str:
        command = [self.kubectl, f"--kubeconfig={self.plane.kubeconfig}", *args]
        if show:
            print("$ kubectl " + " ".join(args), flush=True)
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        if show:
            print(output, end="", flush=True)
        return output

    def wait_for_jsonpath(self, path: str, *, timeout: float, expect: str | None = None) -> str:
        def value() -> str | None:
            found = self.run_kubectl(
                "get", "maskinportenclient", "demo", "-o", f"jsonpath={path}", show=False
            )
            return found if found and (expect is None or found == expect) else None

        return eventually(value, what=f"{path} of maskinportenclient/demo", timeout=timeout)

    def show_token_claims(self) -> None:
        secret = json.loads(
            self.run_kubectl("get", "secret", "demo-maskinporten", "-o", "json", show=False)
        )
        token = base64.b64decode(secret["data"]["MASKINPORTEN_ACCESS_TOKEN"]).decode()
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        print(json.dumps(claims, indent=2), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--exit", action="store_true", help="stop after showing the result instead of serving"
    )
    args = parser.parse_args()
    _say("building or reusing control plane binaries (minutes on first use)")
    binaries.ensure_all()
    with LocalControlPlane() as plane, StandinThread() as standin:
        demo = Demo(plane)
        standin.set_lifetime(SCOPE, TOKEN_LIFETIME_SECONDS)
        _say(f"control plane up; Maskinporten stand-in at {standin.issuer}")
        demo.run_kubectl("apply", "-f", str(REPO / "crds"))
        demo.run_kubectl("wait", "--for=condition=Established", "crd", "--all")
        log = plane.workdir / "operator.log"
        operator = OperatorProcess(plane.kubeconfig, log, operator_settings(standin, "default"))
        try:
            _say("applying the sample MaskinportenClient")
            demo.run_kubectl("apply", "-f", str(EXAMPLE))
            public_jwk = json.loads(demo.wait_for_jsonpath("{.status.publicJwk}", timeout=60))
            _say(f"registering the generated public key {public_jwk['kid']} at the stand-in")
            standin.register_client(
                Client(
                    client_id=CLIENT_ID,
                    org="991825827",
                    scopes=frozenset({SCOPE}),
                    keys=(RegisteredKey(public_jwk),),
                )
            )
            demo.run_kubectl(
                "annotate",
                "--overwrite",
                "maskinportenclient",
                "demo",
                f"maskinporten-operator.dev/force-refresh={int(time.time())}",
            )
            demo.wait_for_jsonpath(
                '{.status.conditions[?(@.type=="Ready")].status}', timeout=60, expect="True"
            )
            _say("the resource is Ready")
            demo.run_kubectl("get", "maskinportenclients", "-o", "wide")
            _say("claims of the token in Secret demo-maskinporten")
            demo.show_token_claims()
            if not args.exit:
                _say(
                    f"running; in another shell: export KUBECONFIG={plane.kubeconfig}\n"
                    f"    operator log: {log}\n    Ctrl-C stops everything"
                )
                signal.sigwait({signal.SIGINT, signal.SIGTERM})
        finally:
            operator.stop()


if __name__ == "__main__":
    main()
