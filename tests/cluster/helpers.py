"""What the cluster tests observe: the token Secret over time, and a sampler pod reading it."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import kubernetes
import pytest

from maskinporten_operator.rfc3339 import parse_time
from maskinporten_testbed.node import NodeImages, NodeUnavailable, prepare
from maskinporten_testbed.node.images import BUSYBOX_IMAGE
from maskinporten_testbed.node.operator import OPERATOR_NAMESPACE

CLIENT_SCOPE = "node:weather.read"
CLIENT_TOKEN_LIFETIME = int(os.environ.get("MASKINPORTEN_CLUSTER_TOKEN_LIFETIME", "20"))
"""Seconds; short so that ten refreshes take minutes. The operator refreshes at half the
lifetime."""
SAMPLED_LIFETIMES = tuple(
    int(seconds)
    for seconds in os.environ.get(
        "MASKINPORTEN_CLUSTER_TOKEN_LIFETIMES", str(CLIENT_TOKEN_LIFETIME)
    ).split(",")
)
"""Seconds: the token lifetimes test_tokens_in_pods samples at once, one client each
(hack/bench-token-files: 120, 300 and 600)."""
CLIENT_LABEL = "maskinporten-operator.dev/client"
"""On a pod: the MaskinportenClient whose new tokens the operator prompts the kubelet to deliver
to it at once."""
TOKEN_KEY = "MASKINPORTEN_ACCESS_TOKEN"
EXPIRES_KEY = f"{TOKEN_KEY}_EXPIRES_AT"
MOUNT = "/var/run/maskinporten"


def prepared_or_skipped() -> NodeImages:
    """The node's packages, binaries and images (hack/run-tests prepares them before pytest);
    the calling test is skipped, with the reason, on a machine where the node cannot run."""
    try:
        return prepare()
    except NodeUnavailable as unavailable:
        pytest.skip(f"the one-node cluster cannot run here: {unavailable}")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SecretVersion:
    seen_at: float
    resource_version: str
    token: str
    """The token's digest (the token itself is never kept)."""
    expires_at: float


@dataclass
class SecretRecorder:
    """Polls a token Secret twice a second on a thread inside ``enter_network`` and keeps each
    resourceVersion it sees."""

    core: kubernetes.client.CoreV1Api
    namespace: str
    name: str
    enter_network: Callable[[], Any]
    versions: list[SecretVersion] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> SecretRecorder:
        self._thread = threading.Thread(target=self._record, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _record(self) -> None:
        with self.enter_network():
            while not self._stop.wait(0.5):
                try:
                    secret = self.core.read_namespaced_secret(self.name, self.namespace)
                except kubernetes.client.ApiException:
                    continue
                self._keep(secret)

    def _keep(self, secret: Any) -> None:
        data = secret.data or {}
        if TOKEN_KEY not in data:
            return
        version = secret.metadata.resource_version
        if self.versions and self.versions[-1].resource_version == version:
            return
        token = base64.b64decode(data[TOKEN_KEY]).decode()
        expires = parse_time(base64.b64decode(data[EXPIRES_KEY]).decode())
        self.versions.append(SecretVersion(time.time(), version, digest(token), expires))

    def _firsts(self) -> list[SecretVersion]:
        """The first version holding each token, in the order the Secret held them."""
        firsts: list[SecretVersion] = []
        for version in self.versions:
            if not firsts or firsts[-1].token != version.token:
                firsts.append(version)
        return firsts

    def tokens(self) -> list[str]:
        return [version.token for version in self._firsts()]

    def token_times(self) -> list[float]:
        """When the Secret was first seen holding each token."""
        return [version.seen_at for version in self._firsts()]

    def rewrites_without_new_token(self) -> int:
        pairs = itertools.pairwise(self.versions)
        return sum(1 for before, after in pairs if before.token == after.token)

    def expired_when_seen(self) -> list[SecretVersion]:
        return [v for v in self.versions if v.expires_at <= v.seen_at]


SAMPLER = f"""while true; do
  echo "$(date +%s) $(sha256sum {MOUNT}/{TOKEN_KEY} | cut -c1-16) $(cat {MOUNT}/{EXPIRES_KEY})"
  sleep 1
done"""
"""Once a second: the time, the token's digest, its expiry (a busybox shell: no curl, no wget)."""


def sampler_pod(name: str, secret: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A busybox version of examples/workload.yaml: the token Secret mounted as a volume (no
    subPath), read on every use, under the restricted Pod Security Standard."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65534,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "client",
                    "image": BUSYBOX_IMAGE,
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", SAMPLER],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [{"name": "token", "mountPath": MOUNT, "readOnly": True}],
                }
            ],
            "volumes": [{"name": "token", "secret": {"secretName": secret}}],
        },
    }


@dataclass(frozen=True)
class Sample:
    at: float
    token: str
    expires_at: float

    @property
    def validity_left(self) -> float:
        return self.expires_at - self.at


def parse_samples(log: str) -> list[Sample]:
    samples = []
    for line in log.splitlines():
        words = line.split()
        if len(words) == 3:
            samples.append(Sample(float(words[0]), words[1], parse_time(words[2])))
    return samples


def sampling_figures(samples: list[Sample], recorder: SecretRecorder) -> dict[str, float]:
    """What the pod saw: the least validity left on the token it read, the seconds it read an
    expired one, how many of the Secret's tokens it read, and how long each took to reach it
    (from the Secret holding it to the pod reading it: the kubelet's propagation)."""
    written = {version.token: version.seen_at for version in reversed(recorder.versions)}
    first_read: dict[str, float] = {}
    for sample in samples:
        first_read.setdefault(sample.token, sample.at)
    delays = sorted(first_read[t] - written[t] for t in first_read if t in written)
    delays = delays[1:]  # the first token was in the Secret before the pod started
    return {
        "samples": len(samples),
        "secret tokens": len(recorder.tokens()),
        "tokens read": len(first_read),
        "min validity left s": min(sample.validity_left for sample in samples),
        "expired s": sum(1 for sample in samples if sample.validity_left <= 0),
        "propagation p50 s": delays[len(delays) // 2] if delays else float("nan"),
        "propagation max s": delays[-1] if delays else float("nan"),
    }


def operator_pods(core: kubernetes.client.CoreV1Api) -> list[Any]:
    """The operator's pods that are not being deleted."""
    listed = core.list_namespaced_pod(
        OPERATOR_NAMESPACE, label_selector="app.kubernetes.io/name=maskinporten-operator"
    )
    return [pod for pod in listed.items if pod.metadata.deletion_timestamp is None]
