"""The node's components, each started inside the namespaces and waited for until it serves."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from maskinporten_testbed import binaries

from .namespaces import Namespaces
from .pki import Pki
from .processes import ProcessTable
from .settings import (
    APISERVER_PORT,
    ETCD_PORT,
    NODE_IP,
    NODE_NAME,
    SERVICE_CIDR,
)

KUBE = binaries.KUBERNETES
NODE = binaries.KUBERNETES_NODE


@dataclass(frozen=True)
class Parts:
    """What the components are started with."""

    table: ProcessTable
    namespaces: Namespaces
    state: Path
    pki: Pki
    config: Path

    def spawn(self, name: str, command: list[str]) -> None:
        self.table.spawn(name, self.namespaces.command(command))

    def wait_until(self, what: str, ready: Callable[[], bool], timeout: float = 120) -> None:
        """Poll ``ready``; fail at once, with its log, when a node process exits meanwhile."""
        deadline = time.monotonic() + timeout
        while not ready():
            self.table.check_running(what)
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{what} not ready after {timeout:.0f} s (logs: {self.table.logs})"
                )
            time.sleep(0.2)

    def kubectl_succeeds(self, *args: str) -> bool:
        command = [str(KUBE.path("kubectl")), f"--kubeconfig={self.config}/admin.kubeconfig"]
        return (
            subprocess.run(
                self.namespaces.command([*command, *args]), capture_output=True
            ).returncode
            == 0
        )

    def kubeconfig(self, user: str) -> str:
        return f"{self.config}/{user}.kubeconfig"

    def control_loop_flags(self, user: str) -> list[str]:
        """A control loop's kubeconfig for the API, for delegated authentication and
        authorization, and no leader election (one node)."""
        kubeconfig = self.kubeconfig(user)
        return [
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--v=1",
        ]


def start_etcd(parts: Parts) -> None:
    client, peer = f"http://127.0.0.1:{ETCD_PORT}", f"http://127.0.0.1:{ETCD_PORT + 1}"
    parts.spawn(
        "etcd",
        [
            str(binaries.ETCD.path("etcd")),
            f"--name={NODE_NAME}",
            f"--data-dir={parts.state}/etcd",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster={NODE_NAME}={peer}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ],
    )
    parts.wait_until("etcd", lambda: parts.namespaces.listening(ETCD_PORT))


def start_apiserver(parts: Parts) -> None:
    pki = parts.pki
    parts.spawn(
        "kube-apiserver",
        [
            str(KUBE.path("kube-apiserver")),
            f"--etcd-servers=http://127.0.0.1:{ETCD_PORT}",
            "--bind-address=0.0.0.0",
            f"--advertise-address={NODE_IP}",
            f"--secure-port={APISERVER_PORT}",
            f"--cert-dir={parts.state}/apiserver-certs",
            f"--tls-cert-file={pki.cert('apiserver')}",
            f"--tls-private-key-file={pki.key('apiserver')}",
            f"--client-ca-file={pki.ca}",
            f"--kubelet-client-certificate={pki.cert('apiserver-kubelet-client')}",
            f"--kubelet-client-key={pki.key('apiserver-kubelet-client')}",
            f"--kubelet-certificate-authority={pki.ca}",
            # Else `kubectl logs/exec` look the node's name up in DNS.
            "--kubelet-preferred-address-types=InternalIP",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={parts.state}/pki/sa.pub",
            f"--service-account-signing-key-file={parts.state}/pki/sa.key",
            "--enable-priority-and-fairness=false",
            "--v=1",
        ],
    )
    parts.wait_until("kube-apiserver", lambda: parts.kubectl_succeeds("get", "--raw=/readyz"))


def start_controller_manager(parts: Parts) -> None:
    """With its default controllers: deployments, replica sets, endpoint slices, namespaces,
    service-account tokens, the kube-root-ca.crt publisher, garbage collection."""
    parts.spawn(
        "kube-controller-manager",
        [
            str(KUBE.path("kube-controller-manager")),
            *parts.control_loop_flags("controller-manager"),
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={parts.state}/pki/sa.key",
            f"--root-ca-file={parts.pki.ca}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
        ],
    )


def start_scheduler(parts: Parts) -> None:
    parts.spawn(
        "kube-scheduler",
        [str(NODE.path("kube-scheduler")), *parts.control_loop_flags("scheduler")],
    )


def start_containerd(parts: Parts) -> None:
    parts.spawn("containerd", ["containerd", f"--config={parts.config}/containerd.toml"])
    socket = parts.namespaces.path("/run/containerd/containerd.sock")
    parts.wait_until("containerd", socket.exists)


def import_images(parts: Parts, archives: list[Path]) -> None:
    for archive in archives:
        parts.namespaces.run(["ctr", "--namespace=k8s.io", "images", "import", str(archive)])


def create_cgroup_root(name: str) -> None:
    """The kubelet wants its cgroupRoot in every hierarchy; cpuset needs its CPUs and memory
    nodes copied from the parent before anything can join it."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        if not os.path.ismount(hierarchy):
            continue
        root = hierarchy / name
        root.mkdir(exist_ok=True)
        for inherited in ("cpuset.cpus", "cpuset.mems"):
            if (root / inherited).exists() and not (root / inherited).read_text().strip():
                (root / inherited).write_text((hierarchy / inherited).read_text())


def start_kubelet(parts: Parts) -> None:
    parts.spawn(
        "kubelet",
        [
            str(NODE.path("kubelet")),
            f"--config={parts.config}/kubelet.yaml",
            f"--kubeconfig={parts.kubeconfig('kubelet')}",
            f"--root-dir={parts.state}/kubelet",
            f"--hostname-override={NODE_NAME}",
            f"--node-ip={NODE_IP}",
            "--v=1",
        ],
    )


def start_kube_proxy(parts: Parts) -> None:
    parts.spawn(
        "kube-proxy",
        [str(NODE.path("kube-proxy")), f"--config={parts.config}/kube-proxy.yaml", "--v=1"],
    )


def wait_for_node(parts: Parts) -> None:
    """The node Ready, and the default namespace usable: its ServiceAccount and the CA's
    ConfigMap come seconds after (a pod applied before fails)."""
    ready = "jsonpath={.status.conditions[?(@.type=='Ready')].status}"

    def node_ready() -> bool:
        command = [str(KUBE.path("kubectl")), f"--kubeconfig={parts.kubeconfig('admin')}"]
        result = subprocess.run(
            parts.namespaces.command([*command, "get", "node", NODE_NAME, "-o", ready]),
            capture_output=True,
            text=True,
        )
        return result.stdout.strip() == "True"

    parts.wait_until("node Ready", node_ready)
    parts.wait_until(
        "namespace default usable",
        lambda: parts.kubectl_succeeds(
            "get", "serviceaccount/default", "configmap/kube-root-ca.crt"
        ),
    )
