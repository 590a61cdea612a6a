"""Workloads read their tokens from the mounted Secret, with the kubelet at its defaults."""

from __future__ import annotations

import json

import kubernetes
import pytest

from maskinporten_testbed.node import Node
from maskinporten_testbed.polling import eventually
from tests.integration.helpers import Cluster

from .helpers import (
    CLIENT_SCOPE,
    CLIENT_TOKEN_LIFETIME,
    SecretRecorder,
    parse_samples,
    sampler_pod,
    sampling_figures,
)

REFRESHES = 10
SAMPLING_TIMEOUT = CLIENT_TOKEN_LIFETIME * 8 + 300


@pytest.mark.timeout(SAMPLING_TIMEOUT + 300)
def test_a_workload_pod_reads_valid_tokens_from_its_mounted_secret_over_ten_refreshes(
    operator: None,
    node: Node,
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    namespace: str,
) -> None:
    """Figures, printed: the least validity left on a token the pod read, the seconds it read
    an expired one, the kubelet's propagation (what users get at its default syncFrequency)."""
    cluster = Cluster(core, custom, namespace)
    cluster.create_client("weather", {"scopes": {"consumes": [{"name": CLIENT_SCOPE}]}})
    secret = "weather-maskinporten"
    eventually(lambda: cluster.secret(secret), what=f"Secret {secret}", timeout=120)
    with SecretRecorder(core, namespace, secret, node.network_entered) as recorder:
        core.create_namespaced_pod(namespace, sampler_pod("client", secret))
        eventually(
            lambda: len(recorder.tokens()) > REFRESHES,
            what=f"{REFRESHES} refreshes of {secret}",
            timeout=SAMPLING_TIMEOUT,
        )
    samples = parse_samples(core.read_namespaced_pod_log("client", namespace))
    figures = sampling_figures(samples, recorder)
    print(f"\n{CLIENT_TOKEN_LIFETIME} s tokens, as the pod read them: {json.dumps(figures)}")
    assert samples[0].token in recorder.tokens()
    assert samples[0].validity_left > 0
    assert figures["secret tokens"] > REFRESHES
