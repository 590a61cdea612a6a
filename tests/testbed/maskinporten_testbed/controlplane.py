"""A real local Kubernetes control plane: etcd, kube-apiserver and kube-controller-manager.

Started on loopback with free ports, client-certificate authentication, RBAC authorization and
service-account signing keys, in a temporary directory. Child processes die with their parent
(``PR_SET_PDEATHSIG``), so an interrupted test run leaves no orphans.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import signal
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from maskinporten_testbed import binaries
from maskinporten_testbed.network import free_port
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.signals import die_with_parent, stopped_by_signals
from maskinporten_testbed.testca import CertificateAuthority

CONTROLLERS = (
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    # Writes a ValidatingAdmissionPolicy's type check into its status (the chart's policy test).
    "validatingadmissionpolicy-status-controller",
)
CERTIFICATE_LIFETIME = datetime.timedelta(days=7)


@dataclass(frozen=True)
class _Credential:
    cert: Path
    key: Path


class _Pki:
    """A throwaway CA (the test CA: a root and an issuing intermediate) with the certificates
    the control plane needs, written as PEM files; each certificate file holds its chain."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._ca = CertificateAuthority("local-control-plane")
        self.ca_cert = self._write("ca.crt", self._ca.root_pem())

    def _write(self, filename: str, content: bytes) -> Path:
        path = self.directory / filename
        path.write_bytes(content)
        path.chmod(0o600)
        return path

    def issue(
        self, stem: str, common_name: str, *, groups: tuple[str, ...] = (), server: bool = False
    ) -> _Credential:
        if server:
            issued = self._ca.issue_tls(
                common_name,
                dns_names=("localhost", "kubernetes.default.svc"),
                ip_addresses=("127.0.0.1", "10.0.0.1"),
                usage=ExtendedKeyUsageOID.SERVER_AUTH,
                lifetime=CERTIFICATE_LIFETIME,
            )
        else:
            issued = self._ca.issue_tls(
                common_name,
                organizations=groups,
                usage=ExtendedKeyUsageOID.CLIENT_AUTH,
                lifetime=CERTIFICATE_LIFETIME,
            )
        return _Credential(
            cert=self._write(f"{stem}.crt", issued.chain_pem()),
            key=self._write(f"{stem}.key", issued.private_key_pem()),
        )

    def service_account_keys(self) -> tuple[Path, Path]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return self._write("sa.key", private), self._write("sa.pub", public)


class LocalControlPlane:
    """etcd + kube-apiserver (+ kube-controller-manager) for tests and the demo."""

    def __init__(self, *, controller_manager: bool = True, workdir: Path | None = None) -> None:
        self._controller_manager = controller_manager
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._workdir = workdir
        self._processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.kubeconfig = Path()
        self.server = ""

    def __enter__(self) -> LocalControlPlane:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="local-control-plane-")
            self._workdir = Path(self._tempdir.name)
        return self._workdir

    def start(self, timeout: float = 120.0) -> None:
        """Start etcd, kube-apiserver (and kube-controller-manager), each waited for until ready
        (``TimeoutError`` after ``timeout`` seconds). Whatever interrupts the start, a signal
        included, stops what was started and removes the directory before it propagates."""
        paths = {**_paths(binaries.ETCD), **_paths(binaries.KUBERNETES)}
        try:
            pki = _Pki(self.workdir)
            self._start_etcd(paths["etcd"])
            self._start_apiserver(paths["kube-apiserver"], pki, timeout)
            if self._controller_manager:
                self._start_controller_manager(paths["kube-controller-manager"], pki, timeout)
        except BaseException:
            self.stop()
            raise

    def _spawn(
        self, name: str, command: list[str], *, append: bool = False
    ) -> subprocess.Popen[bytes]:
        mode = "ab" if append else "wb"
        log = open(self.workdir / f"{name}.log", mode)  # noqa: SIM115 - lives as long as the process
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )
        log.close()
        self._processes.append((name, process))
        return process

    def _start_etcd(self, etcd: Path) -> None:
        client, peer = free_port(), free_port()
        self._etcd_url = f"http://127.0.0.1:{client}"
        self._spawn(
            "etcd",
            [
                str(etcd),
                "--name=local",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={self._etcd_url}",
                f"--advertise-client-urls={self._etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=local=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )

    def _start_apiserver(self, apiserver: Path, pki: _Pki, timeout: float) -> None:
        serving = pki.issue("apiserver", "kube-apiserver", server=True)
        admin = pki.issue("admin", "local-admin", groups=("system:masters",))
        sa_key, sa_pub = pki.service_account_keys()
        port = free_port()
        self.server = f"https://127.0.0.1:{port}"
        self._apiserver_command = [
            str(apiserver),
            f"--etcd-servers={self._etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={self.workdir / 'apiserver-certs'}",
            f"--tls-cert-file={serving.cert}",
            f"--tls-private-key-file={serving.key}",
            f"--client-ca-file={pki.ca_cert}",
            "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={sa_pub}",
            f"--service-account-signing-key-file={sa_key}",
            "--enable-priority-and-fairness=false",
            "--v=1",
        ]
        self._spawn("kube-apiserver", self._apiserver_command)
        self.kubeconfig = self._write_kubeconfig("admin", admin, pki)
        self._sa_key = sa_key
        self._admin, self._pki = admin, pki
        self._wait_ready("kube-apiserver", f"{self.server}/readyz", admin, pki, timeout)

    def stop_apiserver(self) -> None:
        """Stop kube-apiserver alone (SIGTERM, SIGKILL after 15 s); etcd, the controller
        manager and the data stay. :meth:`start_apiserver` brings it back on the same address."""
        for entry in [entry for entry in self._processes if entry[0] == "kube-apiserver"]:
            _, process = entry
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            self._processes.remove(entry)

    def start_apiserver(self, timeout: float = 120.0) -> None:
        """Start kube-apiserver again after :meth:`stop_apiserver`: the same address, certificates
        and etcd, so clients reconnect with the kubeconfig they have. Waits until it is ready."""
        if any(name == "kube-apiserver" for name, _ in self._processes):
            raise RuntimeError("kube-apiserver is running")
        self._spawn("kube-apiserver", self._apiserver_command, append=True)
        self._wait_ready("kube-apiserver", f"{self.server}/readyz", self._admin, self._pki, timeout)

    def _start_controller_manager(self, manager: Path, pki: _Pki, timeout: float) -> None:
        identity = pki.issue("controller-manager", "system:kube-controller-manager")
        kubeconfig = self._write_kubeconfig("controller-manager", identity, pki)
        port = free_port()
        self._spawn(
            "kube-controller-manager",
            [
                str(manager),
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--leader-elect=false",
                "--use-service-account-credentials=true",
                f"--controllers={','.join(CONTROLLERS)}",
                f"--service-account-private-key-file={self._sa_key}",
                f"--root-ca-file={pki.ca_cert}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                "--v=1",
            ],
        )
        self._wait_ready(
            "kube-controller-manager", f"https://127.0.0.1:{port}/healthz", None, pki, timeout
        )

    def _write_kubeconfig(self, user: str, credential: _Credential, pki: _Pki) -> Path:
        path = self.workdir / f"{user}.kubeconfig"
        path.write_text(
            f"""apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: {self.server}
    certificate-authority: {pki.ca_cert}
users:
- name: {user}
  user:
    client-certificate: {credential.cert}
    client-key: {credential.key}
contexts:
- name: local
  context:
    cluster: local
    user: {user}
current-context: local
"""
        )
        path.chmod(0o600)
        return path

    def _wait_ready(
        self, name: str, url: str, credential: _Credential | None, pki: _Pki, timeout: float
    ) -> None:
        context = ssl.create_default_context(cafile=str(pki.ca_cert))
        if credential is None:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            context.load_cert_chain(credential.cert, credential.key)

        def ready() -> bool:
            self._raise_if_exited()
            try:
                with urllib.request.urlopen(url, context=context, timeout=5) as response:  # noqa: S310
                    return bool(response.status == 200)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False

        eventually(ready, what=f"{name} ready (see {self.workdir}/{name}.log)", timeout=timeout)

    def _raise_if_exited(self) -> None:
        for name, process in self._processes:
            if process.poll() is not None:
                tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")

    def stop(self) -> None:
        for _, process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
        for _, process in reversed(self._processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes.clear()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None
            self._workdir = None


def _paths(tool_set: binaries.ToolSet) -> dict[str, Path]:
    binaries.build(tool_set)
    return {binary: tool_set.path(binary) for binary in tool_set.packages}


@contextlib.contextmanager
def control_plane_or_existing(*, controller_manager: bool = True) -> Iterator[Path]:
    """A kubeconfig: ``MASKINPORTEN_TEST_KUBECONFIG`` if set, else a new local control plane."""
    existing = os.environ.get("MASKINPORTEN_TEST_KUBECONFIG")
    if existing:
        yield Path(existing)
        return
    with LocalControlPlane(controller_manager=controller_manager) as plane:
        yield plane.kubeconfig


def main() -> None:
    """Run until SIGINT (Ctrl-C), SIGTERM (``kill PID``) or SIGHUP; then stop the processes,
    remove the directory and exit 0. Prints ``export KUBECONFIG=<path>`` once ready."""
    parser = argparse.ArgumentParser(description="Run a local control plane until interrupted.")
    parser.parse_args()
    with stopped_by_signals(), LocalControlPlane() as plane:
        print(f"export KUBECONFIG={plane.kubeconfig}", flush=True)
        while True:
            signal.pause()


if __name__ == "__main__":
    main()
