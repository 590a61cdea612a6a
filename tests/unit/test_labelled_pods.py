"""The index of labelled pods the pod watch keeps: pod names by namespace and label value."""

from __future__ import annotations

from typing import Any

import kubernetes

from maskinporten_operator.adapters.kube import Kube
from maskinporten_operator.adapters.labelled_pods import LabelledPodIndex, WatchedPods
from maskinporten_operator.api import CLIENT_LABEL, label_value


def pod(name: str, label: str | None, namespace: str = "team") -> dict[str, Any]:
    labels = {} if label is None else {CLIENT_LABEL: label}
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels}}


def test_a_listed_pod_is_found_under_its_namespace_and_label() -> None:
    index = LabelledPodIndex(())
    index.apply_list(None, [pod("reader", "weather"), pod("writer", "weather")], 1)

    assert index.names("team", "weather") == ("reader", "writer")


def test_a_pod_is_found_only_in_its_own_namespace() -> None:
    index = LabelledPodIndex(())
    index.apply_event("ADDED", pod("stranger", "weather", namespace="other"))

    assert index.names("team", "weather") == ()


def test_a_pod_relabelled_for_another_client_moves_to_it() -> None:
    index = LabelledPodIndex(())
    index.apply_event("ADDED", pod("reader", "weather"))
    index.apply_event("MODIFIED", pod("reader", "rain"))

    assert (index.names("team", "weather"), index.names("team", "rain")) == ((), ("reader",))


def test_a_deleted_pod_is_forgotten() -> None:
    index = LabelledPodIndex(())
    index.apply_event("ADDED", pod("reader", "weather"))
    index.apply_event("DELETED", pod("reader", "weather"))

    assert len(index) == 0


def test_a_list_of_a_namespace_replaces_only_that_namespace() -> None:
    index = LabelledPodIndex(("team", "other"))
    index.apply_list("team", [pod("reader", "weather")], 1)
    index.apply_list("other", [pod("stranger", "weather", namespace="other")], 1)
    index.apply_list("team", [], 2)

    assert index.names("team", "weather") == ()
    assert index.names("other", "weather") == ("stranger",)


def test_a_pod_outside_the_watched_namespaces_is_not_kept() -> None:
    index = LabelledPodIndex(("team-*",))
    index.apply_event("ADDED", pod("reader", "weather", namespace="kube-system"))

    assert len(index) == 0


async def test_a_long_client_name_is_looked_up_by_its_label_value() -> None:
    name = "weather-" + "x" * 80
    pods = WatchedPods(
        kubernetes.client.ApiClient(),
        Kube(kubernetes.client.Configuration(), concurrency=1),
        namespaces=(),
        list_wait_seconds=0.0,
        on_prompt=lambda result: None,
    )
    pods.index.apply_event("ADDED", pod("reader", label_value(name)))

    assert await pods.labelled("team", name) == ("reader",)
