"""The operator where users run it: the chart installed on the node with the image built here,
Digdir's stand-ins where its pods reach them.

The stand-ins run in the test bed's own process, on a thread that entered the node's network
namespace before it opened their sockets: they listen on ``NODE_IP``, which pods reach through
the bridge, and the test bed still drives them in-process. Nothing listens outside the node.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maskinporten_testbed.repository import REPOSITORY
from maskinporten_testbed.selfservice import AdminClient, SelfServiceThread, provision_admin_client
from maskinporten_testbed.standin import MaskinportenStandin, StandinThread
from maskinporten_testbed.testca import CertificateAuthority

from .cluster import Node
from .images import OperatorImage
from .settings import NODE_IP

CHART = REPOSITORY / "charts" / "maskinporten-operator"
RELEASE = "maskinporten-operator"
OPERATOR_NAMESPACE = "maskinporten-operator"
CREDENTIAL_SECRET = "selfservice-admin"  # noqa: S105 - a Secret's name
ORG = "991825827"
RESTRICTED = "pod-security.kubernetes.io/enforce=restricted"


@dataclass(frozen=True)
class Digdir:
    """The Maskinporten and self-service API stand-ins, listening on the node's address."""

    maskinporten: StandinThread
    selfservice: SelfServiceThread


@contextlib.contextmanager
def digdir_in_node(node: Node) -> Iterator[Digdir]:
    """Both stand-ins, served by a thread started inside the node's network namespace (the
    thread keeps it; the self-service stand-in shares its loop)."""
    with node.network_entered():
        maskinporten = StandinThread(MaskinportenStandin(host=NODE_IP)).start()
    try:
        with SelfServiceThread(maskinporten, host=NODE_IP) as selfservice:
            yield Digdir(maskinporten, selfservice)
    finally:
        maskinporten.stop()


def create_namespace(node: Node, name: str, *labels: str) -> None:
    node.kubectl("create", "namespace", name)
    if labels:
        node.kubectl("label", "namespace", name, *labels)


def put_admin_credential(node: Node, admin: AdminClient, namespace: str) -> None:
    """The administrator's one-time step: the self-service admin client's id and business
    certificate in a Secret beside the operator."""
    with tempfile.TemporaryDirectory() as scratch:
        key, chain = Path(scratch) / "tls.key", Path(scratch) / "tls.crt"
        key.write_bytes(admin.certificate.private_key_pem())
        chain.write_bytes(admin.certificate.chain_pem())
        node.kubectl(
            *("create", "secret", "generic", CREDENTIAL_SECRET, f"--namespace={namespace}"),
            f"--from-literal=clientId={admin.client_id}",
            f"--from-file=tls.key={key}",
            f"--from-file=tls.crt={chain}",
        )


def chart_values(image: OperatorImage, digdir: Digdir, **overrides: Any) -> dict[str, Any]:
    """The chart's values for the image built here and the stand-ins, with ``overrides``
    (top-level keys) on top."""
    values: dict[str, Any] = {
        "image": {"repository": image.repository, "tag": image.tag, "pullPolicy": "Never"},
        "maskinporten": {"environment": "custom", "issuer": digdir.maskinporten.issuer},
        "selfService": {
            "credentialsSecret": CREDENTIAL_SECRET,
            "url": digdir.selfservice.base_url,
            "clusterName": "node",
        },
        "retry": {"baseSeconds": 1, "maxSeconds": 4},
        "tokenRequests": {"timeoutSeconds": 2},
    }
    return {**values, **overrides}


def helm_release(node: Node, action: str, values: dict[str, Any], *extra: str) -> None:
    """``helm install`` or ``helm upgrade`` of the repository's chart, waiting until the
    operator's pods are Ready."""
    started = time.monotonic()
    node.helm(
        action,
        RELEASE,
        str(CHART),
        f"--namespace={OPERATOR_NAMESPACE}",
        "--values=-",
        "--wait",
        "--timeout=5m",
        *extra,
        stdin=json.dumps(values),
    )
    print(f"[node] helm {action}: {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)


def install_operator(node: Node, image: OperatorImage, digdir: Digdir, **overrides: Any) -> None:
    """What a user does: a namespace under the restricted Pod Security Standard, the admin
    credential in it, ``helm install`` of the chart."""
    create_namespace(node, OPERATOR_NAMESPACE, RESTRICTED)
    admin = provision_admin_client(digdir.maskinporten, CertificateAuthority(), ORG)
    put_admin_credential(node, admin, OPERATOR_NAMESPACE)
    helm_release(node, "install", chart_values(image, digdir, **overrides))
