"""The memory the operator's index of labelled pods costs per pod, measured with tracemalloc:
``python -m maskinporten_testbed.bench.pod_memory [N ...]`` (default 1000 and 5000 pods).

The pods are what the pod watch receives (``PartialObjectMetadata`` as JSON, parsed), spread
like Deployments' replicas: 10 pods per client, 20 clients per namespace. Prints one line per
size; figures, no verdicts.
"""

from __future__ import annotations

import json
import sys
import tracemalloc
import uuid

from maskinporten_operator.adapters.labelled_pods import LabelledPodIndex
from maskinporten_operator.api import CLIENT_LABEL

PODS_PER_CLIENT = 10
CLIENTS_PER_NAMESPACE = 20


def pod_metadata(index: int) -> str:
    """One pod as the API server sends it in a metadata-only list, as JSON text."""
    client = index // PODS_PER_CLIENT
    namespace = f"team-{client // CLIENTS_PER_NAMESPACE:04d}"
    replica_set = uuid.uuid4().hex[:10]
    return json.dumps(
        {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {
                "name": f"weather-api-{client:05d}-{replica_set}-{uuid.uuid4().hex[:5]}",
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "resourceVersion": str(1000 + index),
                "labels": {"app": f"weather-api-{client:05d}", CLIENT_LABEL: f"weather-{client}"},
            },
        }
    )


def bytes_per_pod(count: int) -> float:
    """What the index holds after ``count`` pods were listed, per pod (the parsed objects the
    list delivered are freed: only what the index keeps is counted)."""
    texts = [pod_metadata(i) for i in range(count)]
    tracemalloc.start()
    index = LabelledPodIndex(())
    index.apply_list(None, [json.loads(text) for text in texts], 1)
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(index) == count
    return held / count


def main(sizes: list[int]) -> None:
    print("labelled pods   bytes per pod   total (KiB)")
    for count in sizes:
        per_pod = bytes_per_pod(count)
        print(f"{count:13d}   {per_pod:13.0f}   {per_pod * count / 1024:11.0f}")


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [1000, 5000])
