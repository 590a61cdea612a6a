"""The local control plane is a real one: API, CRDs, watches, garbage collection."""

from __future__ import annotations

import threading
from typing import Any

import kubernetes

from maskinporten_testbed.polling import eventually

GROUP, VERSION, PLURAL = "maskinporten-operator.dev", "v1alpha1", "maskinportenclients"


def _client(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "MaskinportenClient",
        "metadata": {"name": name},
        "spec": {"clientId": "demo-client", "scopes": {"consumes": [{"name": "demo:scope"}]}},
    }


def test_namespace_is_created_and_listed(core: kubernetes.client.CoreV1Api, namespace: str) -> None:
    names = [ns.metadata.name for ns in core.list_namespace().items]
    assert namespace in names


def test_custom_object_of_applied_crd_is_stored_and_read_back(
    custom: kubernetes.client.CustomObjectsApi, crd_installed: None, namespace: str
) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, _client("stored"))
    stored = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "stored")
    assert stored["spec"]["key"] == {
        "source": "Generated",
        "mode": "Auto",
        "deletionPolicy": "Retain",
    }


def test_watch_sees_a_custom_object_being_created(
    custom: kubernetes.client.CustomObjectsApi, crd_installed: None, namespace: str
) -> None:
    seen: list[str] = []
    watch = kubernetes.watch.Watch()

    def consume() -> None:
        for event in watch.stream(
            custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            timeout_seconds=20,
        ):
            seen.append(f"{event['type']} {event['object']['metadata']['name']}")
            watch.stop()

    watcher = threading.Thread(target=consume)
    watcher.start()
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, _client("watched"))
    watcher.join(timeout=25)
    assert seen == ["ADDED watched"]


def test_garbage_collector_deletes_secret_owned_by_deleted_object(
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    crd_installed: None,
    namespace: str,
) -> None:
    owner = custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, _client("owner")
    )
    reference = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "MaskinportenClient",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
    }
    core.create_namespaced_secret(
        namespace, {"metadata": {"name": "owned", "ownerReferences": [reference]}}
    )
    custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "owner")

    def secret_is_gone() -> bool:
        names = [s.metadata.name for s in core.list_namespaced_secret(namespace).items]
        return "owned" not in names

    eventually(secret_is_gone, what="garbage collection of the owned Secret", timeout=120)
