"""`helm uninstall`, then deleting the MaskinportenClients and their namespace: what happens today.

kopf puts a finalizer on each MaskinportenClient it handles. With the operator uninstalled
nothing removes it: the client stays Terminating and so does its namespace, until a user removes
the finalizer by hand (what this test does, as the note it prints says). The client registered
at Digdir's self-service API is left there. (The operator's own loops, planned in their issue,
remove the need for kopf's finalizer.)
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

REMOVE_FINALIZERS = '{"metadata":{"finalizers":null}}'


def _finalizers_remaining(core: kubernetes.client.CoreV1Api, namespace: str) -> bool:
    """Whether the namespace controller reports it waits for finalizers of its contents."""
    conditions = core.read_namespace(namespace).status.conditions or []
    return any(c.type == "NamespaceFinalizersRemaining" and c.status == "True" for c in conditions)


def test_after_helm_uninstall_deleted_clients_stay_terminating_until_their_finalizer_is_removed(
    release_restored: None,
    node: Node,
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    digdir: Digdir,
) -> None:
    namespace = f"uninstall-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": namespace}})
    cluster = Cluster(core, custom, namespace)
    cluster.create_client("weather", {"scopes": {"consumes": [{"name": CLIENT_SCOPE}]}})
    eventually(lambda: cluster.secret("weather-maskinporten"), what="the token Secret", timeout=120)
    client_id = cluster.get_client("weather")["status"]["clientId"]

    node.helm("uninstall", RELEASE, f"--namespace={OPERATOR_NAMESPACE}", "--wait")
    node.kubectl("delete", "maskinportenclient", "weather", f"-n={namespace}", "--wait=false")
    node.kubectl("delete", "namespace", namespace, "--wait=false")
    eventually(
        lambda: _finalizers_remaining(core, namespace),
        what=f"namespace {namespace} waiting for finalizers",
        timeout=120,
    )
    stuck = cluster.get_client("weather")["metadata"]
    note = {
        "client": "Terminating" if stuck.get("deletionTimestamp") else "not deleted",
        "finalizers": stuck.get("finalizers"),
        "namespace": "Terminating, waiting for the client's finalizer",
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
    note["left at Digdir"] = (
        "the client" if digdir.selfservice.client_document(client_id) else "nothing"
    )
    print(f"\nafter helm uninstall: {json.dumps(note)}")
    assert stuck.get("deletionTimestamp")
    assert stuck.get("finalizers")
