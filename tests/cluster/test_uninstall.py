"""`helm uninstall`, then deleting the MaskinportenClients and their namespace.

Only a managed client whose deletion policy is ``Delete`` carries kopf's finalizer (its deletion
must reach Digdir's self-service API). With the operator uninstalled, every other client goes at
once; that one stays Terminating, and so does its namespace, until a user removes the finalizer
by hand (what this test does, as the README says and the note it prints shows), knowing that
the client then stays registered at Digdir.
"""

from __future__ import annotations

import json
import uuid

import kubernetes

from maskinporten_testbed.node import Node
from maskinporten_testbed.node.operator import (
    OPERATOR_NAMESPACE,
    RELEASE,
    Digdir,
)
from maskinporten_testbed.polling import eventually
from tests.integration.helpers import Cluster

from .helpers import CLIENT_SCOPE

FINALIZER = "maskinporten-operator.dev/finalizer"
REMOVE_FINALIZERS = '{"metadata":{"finalizers":null}}'


def _finalizers_remaining(core: kubernetes.client.CoreV1Api, namespace: str) -> bool:
    """Whether the namespace controller reports it waits for finalizers of its contents."""
    conditions = core.read_namespace(namespace).status.conditions or []
    return any(c.type == "NamespaceFinalizersRemaining" and c.status == "True" for c in conditions)


def test_after_helm_uninstall_only_managed_delete_clients_wait_for_their_finalizer_removed(
    release_restored: None,
    node: Node,
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    digdir: Digdir,
) -> None:
    namespace = f"uninstall-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": namespace}})
    cluster = Cluster(core, custom, namespace)
    scopes = {"consumes": [{"name": CLIENT_SCOPE}]}
    cluster.create_client("weather", {"scopes": scopes})
    cluster.create_client(
        "retained", {"scopes": scopes, "registration": {"deletionPolicy": "Retain"}}
    )
    for name in ("weather", "retained"):
        eventually(
            lambda name=name: cluster.secret(f"{name}-maskinporten"),
            what=f"the token Secret of {name}",
            timeout=120,
        )
    client_id = cluster.get_client("weather")["status"]["clientId"]
    retained_finalizers = cluster.get_client("retained")["metadata"].get("finalizers")

    node.helm("uninstall", RELEASE, f"--namespace={OPERATOR_NAMESPACE}", "--wait")
    for name in ("weather", "retained"):
        node.kubectl("delete", "maskinportenclient", name, f"-n={namespace}", "--wait=false")
    node.kubectl("delete", "namespace", namespace, "--wait=false")
    eventually(
        lambda: _finalizers_remaining(core, namespace),
        what=f"namespace {namespace} waiting for finalizers",
        timeout=120,
    )
    stuck = cluster.get_client("weather")["metadata"]
    retained_gone = not cluster.client_exists("retained")
    note = {
        "retained client": "gone" if retained_gone else "still there",
        "managed Delete client": "Terminating" if stuck.get("deletionTimestamp") else "not deleted",
        "finalizers": stuck.get("finalizers"),
        "namespace": "Terminating, waiting for the managed Delete client's finalizer",
        "what a user must do": f"kubectl patch maskinportenclient NAME -n NAMESPACE "
        f"--type=merge -p '{REMOVE_FINALIZERS}'",
    }
    node.kubectl(
        *("patch", "maskinportenclient", "weather", f"-n={namespace}"),
        *("--type=merge", f"--patch={REMOVE_FINALIZERS}"),
    )
    eventually(
        lambda: namespace not in {n.metadata.name for n in core.list_namespace().items},
        what=f"namespace {namespace} gone",
        timeout=120,
    )
    left_at_digdir = digdir.selfservice.client_document(client_id)
    note["left at Digdir"] = "the client" if left_at_digdir else "nothing"
    print(f"\nafter helm uninstall: {json.dumps(note)}")
    assert not retained_finalizers
    assert retained_gone
    assert stuck.get("deletionTimestamp")
    assert stuck.get("finalizers") == [FINALIZER]
    assert left_at_digdir
