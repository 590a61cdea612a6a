"""The chart's pod-changes ValidatingAdmissionPolicy on the real API server: the operator's
ServiceAccount, with the chart's RBAC and its own token, may set the one pod annotation it owns
(``tokenDelivery.promptPods``) and change nothing else about a pod."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from maskinporten_testbed.polling import eventually

from .helpers import (
    SERVICE_ACCOUNT_KINDS,
    Helm,
    kubectl,
    of_kind,
    one,
    service_account_token,
    to_yaml,
    token_kubeconfig,
)

ANNOTATION = "maskinporten-operator.dev/token-version"
POLICY_KINDS = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
CLUSTER_SCOPED = ("ClusterRole", "ClusterRoleBinding", *POLICY_KINDS)
POD = "workload"
WIDER_RBAC = "widened-by-mistake"


@dataclass(frozen=True)
class Policed:
    """A workload pod, and the API as the operator's ServiceAccount sees it."""

    namespace: str
    release_namespace: str
    policy: str
    as_operator: kubernetes.client.CoreV1Api
    admin: kubernetes.client.CoreV1Api

    def refusal(self, change: str) -> str:
        """The policy's message for ``change`` to the workload pod."""
        account = f"{self.release_namespace}/{self.release_namespace}-maskinporten-operator"
        return (
            f"ServiceAccount {account} (maskinporten-operator) may only set the annotation"
            f" {ANNOTATION} on pods; refused: {change} {self.namespace}/{POD}"
        )

    def patch_pod(self, body: dict[str, Any], **options: str) -> Any:
        return self.as_operator.patch_namespaced_pod(POD, self.namespace, body, **options)


def workload_pod() -> dict[str, Any]:
    """A pod no kubelet runs (the control plane has none): admission is all that is tested."""
    return {
        "metadata": {
            "name": POD,
            "labels": {"app": "weather", "maskinporten-operator.dev/client": "weather"},
            "annotations": {"team": "weather"},
        },
        "spec": {
            "automountServiceAccountToken": False,
            "containers": [{"name": "app", "image": "registry.example.net/weather:1"}],
        },
    }


def image_change(image: str) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": "app", "image": image}]}}


def forbidden_message(call: Any, *args: Any, **kwargs: Any) -> str:
    """The API server's refusal (403) of ``call``, which must be refused."""
    with pytest.raises(kubernetes.client.ApiException) as refused:
        call(*args, **kwargs)
    assert refused.value.status == 403, refused.value.body
    return str(refused.value.body)


def policy_enforced(policed: Policed) -> bool:
    """Whether the API server enforces the policy yet (it loads policies asynchronously): a
    dry-run image change by the ServiceAccount is refused."""
    try:
        policed.patch_pod(image_change("registry.example.net/probe:1"), dry_run="All")
    except kubernetes.client.ApiException as error:
        return bool(error.status == 403)
    return False


@pytest.fixture(scope="module")
def policed(
    helm: Helm,
    kubectl_binary: Path,
    kubeconfig: Path,
    core: kubernetes.client.CoreV1Api,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Policed]:
    """The chart's ServiceAccount, RBAC and policy created for real (default values: prompting
    on), and a workload pod in a namespace of its own."""
    release = f"vap-{uuid.uuid4().hex[:8]}"
    namespace = f"{release}-workload"
    for name in (release, namespace):
        core.create_namespace({"metadata": {"name": name}})
    docs = helm.template({}, namespace=release, release=release)
    manifests = to_yaml(d for d in docs if d["kind"] in (*SERVICE_ACCOUNT_KINDS, *POLICY_KINDS))
    kubectl(kubectl_binary, kubeconfig, "apply", manifests=manifests)
    eventually(
        lambda: (
            core.list_namespaced_service_account(
                namespace, field_selector="metadata.name=default"
            ).items
        ),
        what=f"the default ServiceAccount in {namespace}",
    )
    core.create_namespaced_pod(namespace, workload_pod())
    token = service_account_token(
        core, of_kind(docs, "ServiceAccount")[0]["metadata"]["name"], release
    )
    path = token_kubeconfig(kubeconfig, token, tmp_path_factory.mktemp(release) / "kubeconfig")
    as_operator = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(str(path)))
    policy = one(docs, "ValidatingAdmissionPolicy")["metadata"]["name"]
    found = Policed(namespace, release, policy, as_operator, core)
    eventually(lambda: policy_enforced(found), what="the pod-changes policy to be enforced")
    yield found
    kubectl(
        kubectl_binary,
        kubeconfig,
        "delete",
        manifests=to_yaml(d for d in docs if d["kind"] in CLUSTER_SCOPED),
    )
    for name in (release, namespace):
        core.delete_namespace(name)


@pytest.fixture
def widened_rbac(policed: Policed, kubectl_binary: Path, kubeconfig: Path) -> Iterator[None]:
    """RBAC widened by someone's mistake: the ServiceAccount may also delete pods and add
    ephemeral containers in the workload's namespace. The policy still holds."""
    account = f"{policed.release_namespace}-maskinporten-operator"
    manifests = to_yaml(
        [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": WIDER_RBAC, "namespace": policed.namespace},
                "rules": [
                    {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]},
                    {
                        "apiGroups": [""],
                        "resources": ["pods/ephemeralcontainers"],
                        "verbs": ["patch"],
                    },
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": WIDER_RBAC, "namespace": policed.namespace},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": WIDER_RBAC,
                },
                "subjects": [
                    {
                        "kind": "ServiceAccount",
                        "name": account,
                        "namespace": policed.release_namespace,
                    }
                ],
            },
        ]
    )
    kubectl(kubectl_binary, kubeconfig, "apply", manifests=manifests)
    yield
    kubectl(kubectl_binary, kubeconfig, "delete", manifests=manifests)


def test_policy_expressions_type_check_against_pods(policed: Policed) -> None:
    policies = kubernetes.client.AdmissionregistrationV1Api(policed.admin.api_client)

    def checked() -> Any:
        status = policies.read_validating_admission_policy(policed.policy).status
        return status if status and status.observed_generation else None

    status = eventually(checked, what=f"the API server's type check of {policed.policy}")

    assert status.type_checking is not None
    assert not status.type_checking.expression_warnings


def test_operator_may_set_the_token_version_annotation(policed: Policed) -> None:
    patched = policed.patch_pod({"metadata": {"annotations": {ANNOTATION: "3"}}})

    assert patched.metadata.annotations == {"team": "weather", ANNOTATION: "3"}


def test_operator_may_not_change_a_container_image(policed: Policed) -> None:
    message = forbidden_message(policed.patch_pod, image_change("registry.example.net/evil:1"))

    assert policed.refusal("a change to the spec of pod") in message


def test_operator_may_not_change_a_label(policed: Policed) -> None:
    message = forbidden_message(policed.patch_pod, {"metadata": {"labels": {"app": "other"}}})

    assert policed.refusal("a change to the labels of pod") in message


def test_operator_may_not_set_another_annotation(policed: Policed) -> None:
    body = {"metadata": {"annotations": {ANNOTATION: "4", "team": "evil"}}}

    message = forbidden_message(policed.patch_pod, body)

    assert policed.refusal("a change to the annotation(s) team of pod") in message


def test_operator_may_not_add_a_finalizer(policed: Policed) -> None:
    body = {"metadata": {"finalizers": ["example.net/hold"]}}

    message = forbidden_message(policed.patch_pod, body)

    assert policed.refusal("a change to the finalizers of pod") in message


def test_refused_changes_leave_the_pod_as_it_was(policed: Policed) -> None:
    for body in (image_change("registry.example.net/evil:1"), {"metadata": {"labels": {"a": "b"}}}):
        forbidden_message(policed.patch_pod, body)

    pod = policed.admin.read_namespaced_pod(POD, policed.namespace)

    assert pod.spec.containers[0].image == "registry.example.net/weather:1"
    assert pod.metadata.labels == workload_pod()["metadata"]["labels"]


@pytest.mark.usefixtures("widened_rbac")
def test_operator_may_not_delete_a_pod_even_with_rbac_that_allows_it(policed: Policed) -> None:
    message = forbidden_message(
        policed.as_operator.delete_namespaced_pod, POD, policed.namespace, dry_run="All"
    )

    assert policed.refusal("DELETE of pod") in message


@pytest.mark.usefixtures("widened_rbac")
def test_operator_may_not_add_an_ephemeral_container_even_with_rbac_that_allows_it(
    policed: Policed,
) -> None:
    debug = {"name": "debug", "image": "registry.example.net/evil:1", "targetContainerName": "app"}

    message = forbidden_message(
        policed.as_operator.patch_namespaced_pod_ephemeralcontainers,
        POD,
        policed.namespace,
        {"spec": {"ephemeralContainers": [debug]}},
    )

    assert policed.refusal("UPDATE of pods/ephemeralcontainers") in message


def test_other_users_changes_are_not_the_policys_business(policed: Policed) -> None:
    body = {"metadata": {"annotations": {"team": "weather-2"}}}

    patched = policed.admin.patch_namespaced_pod(POD, policed.namespace, body, dry_run="All")

    assert patched.metadata.annotations["team"] == "weather-2"
