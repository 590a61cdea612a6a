"""The node's certificates: the test CA's, one per component, written as PEM files."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from maskinporten_testbed.testca import CertificateAuthority

from .settings import KUBERNETES_SERVICE_IP, NODE_IP, NODE_NAME

LIFETIME = datetime.timedelta(days=7)
APISERVER_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
CLIENTS = {
    # file stem: (common name, groups)
    "admin": ("maskinporten-node-admin", ("system:masters",)),
    "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", ("system:masters",)),
    "controller-manager": ("system:kube-controller-manager", ()),
    "scheduler": ("system:kube-scheduler", ()),
    "kube-proxy": ("system:kube-proxy", ()),
    "kubelet": (f"system:node:{NODE_NAME}", ("system:nodes",)),
}
"""The client certificates: the kubelet's passes the Node authorizer and NodeRestriction."""


@dataclass(frozen=True)
class Pki:
    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    def cert(self, stem: str) -> Path:
        return self.directory / f"{stem}.crt"

    def key(self, stem: str) -> Path:
        return self.directory / f"{stem}.key"


def make_pki(directory: Path) -> Pki:
    """A throwaway CA, the serving and client certificates, the service-account key pair."""
    directory.mkdir()
    pki = Pki(directory)
    authority = CertificateAuthority("maskinporten-node")
    pki.ca.write_bytes(authority.root_pem())
    servers = {
        "apiserver": (
            "kube-apiserver",
            APISERVER_NAMES,
            (NODE_IP, KUBERNETES_SERVICE_IP, "127.0.0.1"),
        ),
        "kubelet-serving": (NODE_NAME, (), (NODE_IP,)),
    }
    for stem, (name, dns_names, addresses) in servers.items():
        issued = authority.issue_tls(
            name,
            dns_names=dns_names,
            ip_addresses=addresses,
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
            lifetime=LIFETIME,
        )
        _write(pki, stem, issued.chain_pem(), issued.private_key_pem())
    for stem, (name, groups) in CLIENTS.items():
        issued = authority.issue_tls(
            name, organizations=groups, usage=ExtendedKeyUsageOID.CLIENT_AUTH, lifetime=LIFETIME
        )
        _write(pki, stem, issued.chain_pem(), issued.private_key_pem())
    signing = ec.generate_private_key(ec.SECP256R1())
    (directory / "sa.key").write_bytes(
        signing.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (directory / "sa.pub").write_bytes(
        signing.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pki


def _write(pki: Pki, stem: str, chain: bytes, key: bytes) -> None:
    pki.cert(stem).write_bytes(chain)
    pki.key(stem).write_bytes(key)
    pki.key(stem).chmod(0o600)
