"""The rendered manifests are accepted by the real API server (server-side dry run: validation,
schemas, admission, Pod Security) without being created."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml

from tests.integration.helpers import wait_until_established

from .helpers import VALUE_SET_NAMES, Helm, of_kind, to_yaml, value_sets

# The Prometheus operator's CRD is not installed here: a stand-in that accepts any spec.
SERVICE_MONITOR_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "scope": "Namespaced",
        "names": {"kind": "ServiceMonitor", "plural": "servicemonitors"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


@pytest.fixture(scope="module")
def custom_resource_crds(api_client: kubernetes.client.ApiClient) -> Iterator[None]:
    """The CRD of the one custom resource the chart renders besides its own: a ServiceMonitor
    stand-in. Created only when missing (never replacing a real one in an existing cluster), and
    only then removed afterwards."""
    extensions = kubernetes.client.ApiextensionsV1Api(api_client)
    created = []
    for crd in [SERVICE_MONITOR_CRD]:
        name = crd["metadata"]["name"]
        try:
            extensions.create_custom_resource_definition(crd)
        except kubernetes.client.ApiException as error:
            if error.status != 409:
                raise
            continue
        created.append(name)
        wait_until_established(api_client, name)
    yield
    for name in created:
        extensions.delete_custom_resource_definition(name)


def dry_run(kubectl: Path, kubeconfig: Path, manifests: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(kubectl), "--kubeconfig", str(kubeconfig), "apply", "--dry-run=server", "-f", "-"],
        input=manifests,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.usefixtures("custom_resource_crds")
@pytest.mark.parametrize("name", VALUE_SET_NAMES)
def test_manifests_are_accepted_by_the_api_server(
    helm: Helm,
    kubectl_binary: Path,
    kubeconfig: Path,
    chart_namespaces: tuple[str, str, str],
    name: str,
) -> None:
    release_namespace, *watched = chart_namespaces
    values = value_sets((watched[0], watched[1]))[name]
    manifests = helm.template_text(values, namespace=release_namespace, include_crds=True)
    result = dry_run(kubectl_binary, kubeconfig, manifests)
    assert result.returncode == 0, result.stderr
    documents = [doc for doc in yaml.safe_load_all(manifests) if doc]
    accepted = [line for line in result.stdout.splitlines() if line.endswith("(server dry run)")]
    assert len(accepted) == len(documents), result.stdout


def test_pod_template_passes_the_restricted_pod_security_standard(
    helm: Helm, kubectl_binary: Path, kubeconfig: Path, chart_namespaces: tuple[str, str, str]
) -> None:
    """The release namespace enforces and warns on `restricted`: the API server would name every
    violation of the Deployment's pod template in a warning."""
    release_namespace = chart_namespaces[0]
    deployment = of_kind(helm.template({}, namespace=release_namespace), "Deployment")
    result = dry_run(kubectl_binary, kubeconfig, to_yaml(deployment))
    assert result.returncode == 0, result.stderr
    assert "PodSecurity" not in result.stderr
