"""Workloads read their tokens from the mounted Secret, with the kubelet at its defaults: for each
token lifetime of SAMPLED_LIFETIMES at once (a managed client each, its scope's lifetime set at
the stand-in), a pod labelled for prompted delivery and a pod left to the kubelet's own sync."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass

import kubernetes
import pytest

from maskinporten_testbed.node import Node
from maskinporten_testbed.node.operator import ORG as NODE_ORG
from maskinporten_testbed.node.operator import Digdir
from maskinporten_testbed.polling import eventually
from tests.integration.helpers import Cluster

from .helpers import (
    CLIENT_LABEL,
    SAMPLED_LIFETIMES,
    SecretRecorder,
    parse_samples,
    sampler_pod,
    sampling_figures,
)

REFRESHES = 10
SAMPLING_TIMEOUT = max(SAMPLED_LIFETIMES) * 8 + 300
PROMPTED, KUBELET_SYNC = "prompted", "kubelet sync"


@dataclass(frozen=True)
class Sampling:
    """One lifetime's client, the recorder of its token Secret, and its sampler pod by delivery."""

    lifetime: int
    recorder: SecretRecorder
    pods: dict[str, str]


def start_sampling(
    stack: contextlib.ExitStack, cluster: Cluster, node: Node, digdir: Digdir, lifetime: int
) -> Sampling:
    scope = f"node:weather-{lifetime}.read"
    digdir.maskinporten.set_lifetime(scope, lifetime)
    digdir.selfservice.grant_scope_access(NODE_ORG, scope)
    client = f"weather-{lifetime}"
    cluster.create_client(client, {"scopes": {"consumes": [{"name": scope}]}})
    secret = f"{client}-maskinporten"
    eventually(lambda: cluster.secret(secret), what=f"Secret {secret}", timeout=120)
    recorder = SecretRecorder(cluster.core, cluster.namespace, secret, node.network_entered)
    stack.enter_context(recorder)
    pods = {PROMPTED: f"prompted-{lifetime}", KUBELET_SYNC: f"kubelet-sync-{lifetime}"}
    labels = {PROMPTED: {CLIENT_LABEL: client}, KUBELET_SYNC: {}}
    for delivery, pod in pods.items():
        cluster.core.create_namespaced_pod(
            cluster.namespace, sampler_pod(pod, secret, labels[delivery])
        )
    return Sampling(lifetime, recorder, pods)


def report(sampling: Sampling, cluster: Cluster) -> None:
    """Prints what each pod read; asserts only that it read the Secret's tokens."""
    for delivery, pod in sampling.pods.items():
        samples = parse_samples(cluster.core.read_namespaced_pod_log(pod, cluster.namespace))
        figures = sampling_figures(samples, sampling.recorder)
        label = f"{sampling.lifetime} s tokens, {delivery}"
        print(f"\n{label}, as the pod read them: {json.dumps(figures)}", flush=True)
        assert samples[0].token in sampling.recorder.tokens()
        assert samples[0].validity_left > 0


@pytest.mark.timeout(SAMPLING_TIMEOUT + 300)
def test_workload_pods_read_valid_tokens_from_their_mounted_secret_over_ten_refreshes(
    operator: None,
    node: Node,
    digdir: Digdir,
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    namespace: str,
) -> None:
    """Figures, printed per lifetime (shortest first, as each has its refreshes) and delivery:
    the least validity left on a token the pod read, the seconds it read an expired one, the
    kubelet's propagation from the Secret to the pod (p50, max)."""
    cluster = Cluster(core, custom, namespace)
    with contextlib.ExitStack() as stack:
        samplings = [
            start_sampling(stack, cluster, node, digdir, lifetime)
            for lifetime in sorted(SAMPLED_LIFETIMES)
        ]
        for sampling in samplings:
            eventually(
                lambda: len(sampling.recorder.tokens()) > REFRESHES,  # noqa: B023 - waited at once
                what=f"{REFRESHES} refreshes of the {sampling.lifetime} s tokens",
                timeout=SAMPLING_TIMEOUT,
            )
            report(sampling, cluster)
