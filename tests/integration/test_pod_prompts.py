"""After each new token the operator annotates the pods labelled for the client, so that their
kubelet copies the new Secret at once; nothing else about any pod changes. Without a node the
pods stay Pending: what these tests check is the annotation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from maskinporten_testbed import binaries
from maskinporten_testbed.network import free_port
from maskinporten_testbed.operatorprocess import TEST_SETTINGS, OperatorProcess, operator_settings
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread
from tests.chart.helpers import (
    SERVICE_ACCOUNT_KINDS,
    Helm,
    kubectl,
    of_kind,
    plain_env,
    service_account_token,
    to_yaml,
    token_kubeconfig,
    tool,
)

from .helpers import Cluster, provision

CLIENT_LABEL = "maskinporten-operator.dev/client"
TOKEN_VERSION = "maskinporten-operator.dev/token-version"


def create_pod(cluster: Cluster, name: str, labels: dict[str, str]) -> dict[str, Any]:
    """A pod mounting the client's Secret; retried until the namespace's default
    ServiceAccount exists (the API server refuses pods before)."""
    body = {
        "metadata": {"name": name, "labels": labels, "annotations": {"team": "weather"}},
        "spec": {
            "containers": [{"name": "app", "image": "registry.invalid/app:1"}],
            "volumes": [{"name": "token", "secret": {"secretName": "weather-maskinporten"}}],
        },
    }

    def created() -> dict[str, Any] | None:
        try:
            return pod(cluster, cluster.core.create_namespaced_pod(cluster.namespace, body))
        except kubernetes.client.ApiException as error:
            if error.status == 403 and "serviceaccount" in (error.body or "").lower():
                return None
            raise

    return eventually(created, what=f"pod {name} created")


def pod(cluster: Cluster, found: Any) -> dict[str, Any]:
    sanitized: dict[str, Any] = cluster.core.api_client.sanitize_for_serialization(found)
    return sanitized


def read_pod(cluster: Cluster, name: str) -> dict[str, Any]:
    return pod(cluster, cluster.core.read_namespaced_pod(name, cluster.namespace))


def token_version(cluster: Cluster, name: str) -> str | None:
    annotations = read_pod(cluster, name)["metadata"].get("annotations") or {}
    found: str | None = annotations.get(TOKEN_VERSION)
    return found


def secret_version(cluster: Cluster) -> str:
    secret = cluster.secret("weather-maskinporten")
    assert secret is not None
    version: str = secret["metadata"]["resourceVersion"]
    return version


def refresh(cluster: Cluster, request: str) -> None:
    """A forced refresh of weather, waited for until handled: a new token is in its Secret."""
    cluster.force_refresh("weather", request)
    eventually(
        lambda: cluster.get_client("weather")["status"].get("handledForceRefresh") == request,
        what=f"forced refresh {request} handled",
    )


def wait_prompted(cluster: Cluster, pod_name: str) -> str:
    """The Secret's resourceVersion, once the pod carries it."""
    return eventually(
        lambda: (
            (version := secret_version(cluster)) == token_version(cluster, pod_name) and version
        ),
        what=f"pod {pod_name} annotated with the Secret's version",
    )


def events(cluster: Cluster, reason: str) -> list[dict[str, Any]]:
    return [e for e in cluster.events() if e.get("reason") == reason]


@pytest.fixture
def weather(cluster: Cluster, standin: StandinThread) -> Cluster:
    """A labelled pod, then its client with a token: later tokens prompt the pod."""
    create_pod(cluster, "reader", {CLIENT_LABEL: "weather"})
    provision(cluster, standin, "weather")
    cluster.wait_condition("weather", status="True")
    return cluster


def test_a_labelled_pod_is_annotated_with_the_secrets_version_after_each_new_token(
    weather: Cluster,
) -> None:
    refresh(weather, "1")
    first = wait_prompted(weather, "reader")
    refresh(weather, "2")
    second = wait_prompted(weather, "reader")

    assert first != second


def test_a_prompt_changes_nothing_of_the_pod_but_the_operators_annotation(
    weather: Cluster,
) -> None:
    before = read_pod(weather, "reader")
    refresh(weather, "1")
    wait_prompted(weather, "reader")
    after = read_pod(weather, "reader")

    assert after["spec"] == before["spec"]
    assert after["metadata"]["labels"] == before["metadata"]["labels"]
    assert after["metadata"]["annotations"] == {
        **before["metadata"]["annotations"],
        TOKEN_VERSION: after["metadata"]["annotations"][TOKEN_VERSION],
    }
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    managers = {f["manager"] for f in after["metadata"]["managedFields"]}
    assert "maskinporten-operator" in managers


def test_pods_unlabelled_or_labelled_for_another_client_are_left_alone(
    weather: Cluster,
) -> None:
    create_pod(weather, "bystander", {"app": "weather"})
    create_pod(weather, "neighbour", {CLIENT_LABEL: "rain"})
    refresh(weather, "1")
    wait_prompted(weather, "reader")

    assert token_version(weather, "bystander") is None
    assert token_version(weather, "neighbour") is None


def test_a_label_naming_no_client_is_ignored_without_an_error_or_event(
    weather: Cluster, operator: OperatorProcess
) -> None:
    create_pod(weather, "labelled-for-nobody", {CLIENT_LABEL: "no-such-client"})
    refresh(weather, "1")
    wait_prompted(weather, "reader")

    assert token_version(weather, "labelled-for-nobody") is None
    assert [
        e for e in weather.events() if e["involvedObject"]["kind"] != "MaskinportenClient"
    ] == []
    logs = operator.logs()
    assert "labelled-for-nobody" not in logs
    assert "no-such-client" not in logs


def test_a_pod_in_another_namespace_labelled_for_the_client_is_left_alone(
    weather: Cluster, elsewhere: Cluster
) -> None:
    create_pod(elsewhere, "stranger", {CLIENT_LABEL: "weather"})
    refresh(weather, "1")
    wait_prompted(weather, "reader")

    assert token_version(elsewhere, "stranger") is None
    assert elsewhere.events() == []


@pytest.fixture
def elsewhere(core: kubernetes.client.CoreV1Api, cluster: Cluster) -> Iterator[Cluster]:
    """Another namespace the shared operator watches, with no MaskinportenClient in it."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    core.create_namespace({"metadata": {"name": name}})
    try:
        yield Cluster(core, cluster.custom, name)
    finally:
        core.delete_namespace(name)


def test_a_refused_prompt_leaves_one_event_and_tokens_keep_coming(
    weather: Cluster, refusing_policy: RefusingPolicy
) -> None:
    refusing_policy.bind(weather.namespace)
    tokens = set()
    for request in ("1", "2", "3"):
        refresh(weather, request)
        tokens.add(weather.secret_data("weather-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"])
    refusing_policy.unbind()
    refresh(weather, "4")
    eventually(lambda: events(weather, "PodsPrompted"), what="a PodsPrompted Event")

    refused = events(weather, "PodPromptRefused")
    assert len(tokens) == 3
    assert len(refused) == 1
    assert sum(e.get("count") or 1 for e in refused) == 1
    assert "reader" in refused[0]["message"]
    assert REFUSAL in refused[0]["message"]
    weather.wait_condition("weather", status="True")


REFUSAL = "pods here are frozen"


class RefusingPolicy:
    """A ValidatingAdmissionPolicy refusing every pod update, bound to one namespace at a time."""

    def __init__(self, api_client: kubernetes.client.ApiClient) -> None:
        self._admission = kubernetes.client.AdmissionregistrationV1Api(api_client)
        self._core = kubernetes.client.CoreV1Api(api_client)
        self.name = f"refuse-pod-updates-{uuid.uuid4().hex[:8]}"
        self._admission.create_validating_admission_policy(
            {
                "metadata": {"name": self.name},
                "spec": {
                    "failurePolicy": "Fail",
                    "matchConstraints": {
                        "resourceRules": [
                            {
                                "apiGroups": [""],
                                "apiVersions": ["v1"],
                                "operations": ["UPDATE"],
                                "resources": ["pods"],
                            }
                        ]
                    },
                    "validations": [{"expression": "false", "message": REFUSAL}],
                },
            }
        )
        self._namespace: str | None = None

    def bind(self, namespace: str) -> None:
        """Bind the policy to ``namespace``, and wait until the API server enforces it."""
        self._namespace = namespace
        self._admission.create_validating_admission_policy_binding(
            {
                "metadata": {"name": self.name},
                "spec": {
                    "policyName": self.name,
                    "validationActions": ["Deny"],
                    "matchResources": {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": namespace}
                        }
                    },
                },
            }
        )
        eventually(lambda: not self._probe_allowed(), what="the policy enforced")

    def unbind(self) -> None:
        """Remove the binding, and wait until the API server no longer enforces it."""
        self._admission.delete_validating_admission_policy_binding(self.name)
        eventually(self._probe_allowed, what="the policy no longer enforced")
        self._namespace = None

    def _probe_allowed(self) -> bool:
        """Whether an update of a probe pod (created on first use) is allowed."""
        assert self._namespace is not None
        probe = {"metadata": {"annotations": {"probe": uuid.uuid4().hex}}}
        try:
            self._core.patch_namespaced_pod("reader", self._namespace, probe)
        except kubernetes.client.ApiException as error:
            if error.status in (403, 422) and REFUSAL in (error.body or ""):
                return False
            raise
        return True

    def delete(self) -> None:
        if self._namespace is not None:
            self._admission.delete_validating_admission_policy_binding(self.name)
        self._admission.delete_validating_admission_policy(self.name)


@pytest.fixture
def refusing_policy(api_client: kubernetes.client.ApiClient) -> Iterator[RefusingPolicy]:
    policy = RefusingPolicy(api_client)
    yield policy
    policy.delete()


@pytest.fixture
def without_prompts(
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    crd_installed: None,
    standin: StandinThread,
    kubeconfig: Path,
    tmp_path: Path,
) -> Iterator[tuple[Cluster, OperatorProcess]]:
    """A namespace outside the shared operator's reach, with an operator of its own that has
    prompting turned off."""
    name = f"noprompt-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    settings = {
        **operator_settings(standin, name),
        **TEST_SETTINGS,
        "MASKINPORTEN_OPERATOR_PROMPT_PODS": "false",
    }
    running = OperatorProcess(kubeconfig, tmp_path / "operator.log", settings)
    try:
        yield Cluster(core, custom, name), running
    finally:
        running.stop()
        core.delete_namespace(name)


def test_with_prompting_off_there_is_no_pod_watch_and_no_pod_is_annotated(
    without_prompts: tuple[Cluster, OperatorProcess], standin: StandinThread
) -> None:
    cluster, running = without_prompts
    create_pod(cluster, "reader", {CLIENT_LABEL: "weather"})
    provision(cluster, standin, "weather")
    cluster.wait_condition("weather", status="True")
    refresh(cluster, "1")

    assert token_version(cluster, "reader") is None
    assert "watching Pods" not in running.logs()
    assert "watching Secrets" in running.logs()


def without_pod_patch(doc: dict[str, Any]) -> dict[str, Any]:
    """A rendered RBAC object, less the verb patch on pods wherever a rule grants it."""
    for rule in doc.get("rules") or []:
        if "pods" in rule["resources"]:
            rule["verbs"] = [verb for verb in rule["verbs"] if verb != "patch"]
    return doc


@pytest.fixture
def without_patch_on_pods(
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    crd_installed: None,
    standin: StandinThread,
    kubeconfig: Path,
    tmp_path: Path,
) -> Iterator[tuple[Cluster, OperatorProcess]]:
    """A namespace outside the shared operator's reach, with an operator of its own that runs
    with the chart's ServiceAccount and namespaced RBAC, less patch on pods (it still lists and
    watches them, as the chart grants)."""
    name = f"nopatch-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    values = {
        "rbac": {"namespaced": True},
        "watchNamespaces": [name],
        "maskinporten": {"environment": "custom", "issuer": standin.issuer},
        "logging": {"level": "DEBUG", "format": "text"},
        "metrics": {"port": free_port()},
    }
    docs = Helm(tool(binaries.HELM, "helm")).template(values, namespace=name, release="nopatch")
    rbac = to_yaml(without_pod_patch(d) for d in docs if d["kind"] in SERVICE_ACCOUNT_KINDS)
    kubectl_binary = tool(binaries.KUBERNETES, "kubectl")
    running = None
    try:
        kubectl(kubectl_binary, kubeconfig, "apply", manifests=rbac)
        account = of_kind(docs, "ServiceAccount")[0]["metadata"]["name"]
        token = service_account_token(core, account, name)
        running = OperatorProcess(
            token_kubeconfig(kubeconfig, token, tmp_path / "kubeconfig"),
            tmp_path / "operator.log",
            {**plain_env(docs), "POD_NAMESPACE": name, **TEST_SETTINGS},
        )
        yield Cluster(core, custom, name), running
    finally:
        if running is not None:
            running.stop()
        kubectl(kubectl_binary, kubeconfig, "delete", "--ignore-not-found", manifests=rbac)
        core.delete_namespace(name)


def test_a_prompt_refused_by_rbac_is_one_warning_and_every_client_still_gets_its_tokens(
    without_patch_on_pods: tuple[Cluster, OperatorProcess], standin: StandinThread
) -> None:
    cluster, _ = without_patch_on_pods
    create_pod(cluster, "reader", {CLIENT_LABEL: "weather"})
    provision(cluster, standin, "weather")
    provision(cluster, standin, "rain")
    eventually(lambda: events(cluster, "PodPromptRefused"), what="a PodPromptRefused Event")
    tokens = set()
    for request in ("1", "2"):
        refresh(cluster, request)
        tokens.add(cluster.secret_data("weather-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"])

    refused = events(cluster, "PodPromptRefused")
    assert [(e["type"], e["involvedObject"]["name"]) for e in refused] == [("Warning", "weather")]
    assert sum(e.get("count") or 1 for e in refused) == 1
    assert "pod reader" in refused[0]["message"]
    assert "HTTP 403" in refused[0]["message"]
    assert len(tokens) == 2
    assert token_version(cluster, "reader") is None
    assert cluster.wait_condition("weather", status="True")["reason"] == "TokenIssued"
    assert cluster.wait_condition("rain", status="True")["reason"] == "TokenIssued"
    assert cluster.secret_data("rain-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"].count(".") == 2
    assert [e for e in cluster.events() if e["type"] == "Warning"] == refused
