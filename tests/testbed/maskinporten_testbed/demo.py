"""The README's run command: the operator end to end on a local control plane and stand-in.

Starts etcd + kube-apiserver + kube-controller-manager, the Maskinporten stand-in and the
self-service API stand-in beside it (together they play Digdir), puts the organisation's
self-service admin credential in a Secret as an administrator would once, installs the CRD,
runs the operator, applies ``examples/maskinportenclient.yaml`` (a managed client: no
clientId), and shows the resource Ready, the client the operator registered, and the decoded
claims of the token in its Secret. No manual registration step.
"""

from __future__ import annotations

import argparse
import base64
import json
import signal
import subprocess

from maskinporten_testbed import binaries, clusterdemo
from maskinporten_testbed.controlplane import LocalControlPlane
from maskinporten_testbed.operatorprocess import OperatorProcess, operator_settings
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.repository import CRDS, EXAMPLES
from maskinporten_testbed.selfservice import AdminClient, SelfServiceThread, provision_admin_client
from maskinporten_testbed.signals import stopped_by_signals
from maskinporten_testbed.standin import StandinThread
from maskinporten_testbed.testca import CertificateAuthority

EXAMPLE = EXAMPLES / "maskinportenclient.yaml"
ORG = "991825827"
SCOPE = "demo:weather.read"
CREDENTIAL_SECRET = "selfservice-admin"  # noqa: S105 - a Secret's name
TOKEN_LIFETIME_SECONDS = 120
"""The scope's cap (an API owner's ``at_max_age``) at Maskinporten's default lifetime: the demo's
managed client asks for more, and gets the 120 s most clients get (LifetimeSufficient says
what that means for pods reading the mounted file)."""


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

    def put_admin_credential(self, admin: AdminClient) -> None:
        """The administrator's one-time step: the admin client's id and business certificate
        in a Secret in the operator's namespace."""
        key = self.plane.workdir / "admin-tls.key"
        chain = self.plane.workdir / "admin-tls.crt"
        key.write_bytes(admin.certificate.private_key_pem())
        key.chmod(0o600)
        chain.write_bytes(admin.certificate.chain_pem())
        self.run_kubectl(
            "create",
            "secret",
            "generic",
            CREDENTIAL_SECRET,
            f"--from-literal=clientId={admin.client_id}",
            f"--from-file=tls.key={key}",
            f"--from-file=tls.crt={chain}",
        )

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
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="on a one-node cluster: the image built, the chart installed, the token read in a pod",
    )
    args = parser.parse_args()
    with stopped_by_signals():
        if args.cluster:
            clusterdemo.run(serve=not args.exit)
        else:
            _demo(serve=not args.exit)


def _demo(*, serve: bool) -> None:
    _say("building or reusing control plane binaries (minutes on first use)")
    binaries.ensure_all()
    with (
        LocalControlPlane() as plane,
        StandinThread() as standin,
        SelfServiceThread(standin) as selfservice,
    ):
        demo = Demo(plane)
        standin.set_lifetime(SCOPE, TOKEN_LIFETIME_SECONDS)
        selfservice.grant_scope_access(ORG, SCOPE)
        _say(
            f"control plane up; Maskinporten stand-in at {standin.issuer}, "
            f"self-service API stand-in at {selfservice.base_url}"
        )
        demo.run_kubectl("apply", "-f", str(CRDS))
        demo.run_kubectl("wait", "--for=condition=Established", "crd", "--all")
        _say("once per cluster: the organisation's self-service admin credential in a Secret")
        demo.put_admin_credential(provision_admin_client(standin, CertificateAuthority(), ORG))
        log = plane.workdir / "operator.log"
        settings = {
            **operator_settings(standin, "default"),
            "MASKINPORTEN_OPERATOR_SELF_SERVICE_URL": selfservice.base_url,
            "MASKINPORTEN_OPERATOR_SELF_SERVICE_CREDENTIALS": f"default/{CREDENTIAL_SECRET}",
            "MASKINPORTEN_OPERATOR_CLUSTER_NAME": "demo",
        }
        operator = OperatorProcess(plane.kubeconfig, log, settings)
        try:
            _say("applying the sample MaskinportenClient (no clientId: a managed client)")
            demo.run_kubectl("apply", "-f", str(EXAMPLE))
            demo.wait_for_jsonpath(
                '{.status.conditions[?(@.type=="Ready")].status}', timeout=180, expect="True"
            )
            _say("the resource is Ready")
            demo.run_kubectl("get", "maskinportenclients", "-o", "wide")
            client_id = demo.wait_for_jsonpath("{.status.clientId}", timeout=10)
            _say(f"the client {client_id} the operator registered at the self-service API")
            print(json.dumps(selfservice.client_document(client_id), indent=2), flush=True)
            _say("claims of the token in Secret demo-maskinporten")
            demo.show_token_claims()
            if serve:
                _say(
                    f"running; in another shell: export KUBECONFIG={plane.kubeconfig}\n"
                    f"    operator log: {log}\n    Ctrl-C stops everything"
                )
                signal.pause()
        finally:
            operator.stop()


if __name__ == "__main__":
    main()
