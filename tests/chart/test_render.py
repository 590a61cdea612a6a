"""What ``helm template`` renders for representative value sets (no cluster needed)."""

from __future__ import annotations

from typing import Any

import pytest

from maskinporten_operator.settings import settings_from_env

from .helpers import (
    FULLNAME,
    VALUE_SET_NAMES,
    Helm,
    HelmError,
    container,
    grants,
    of_kind,
    one,
    plain_env,
    value_sets,
    verbs_by_resource,
)

WATCHED = ("team-a", "team-b")
LEASE_ROLE = f"{FULLNAME}-leader-election"
VALUES = value_sets(WATCHED)


def render(helm: Helm, name: str) -> list[dict[str, Any]]:
    return helm.template(VALUES[name])


@pytest.mark.parametrize("name", VALUE_SET_NAMES)
def test_chart_lints_cleanly(helm: Helm, name: str) -> None:
    result = helm.lint(VALUES[name])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", VALUE_SET_NAMES)
def test_rendered_settings_are_accepted_by_the_operator(helm: Helm, name: str) -> None:
    """The chart sets only MASKINPORTEN_OPERATOR_* variables the operator knows, with valid values
    (it refuses to start on an unknown one)."""
    settings_from_env(plain_env(render(helm, name)))


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"maskinporten": {"environment": "staging"}}, "/maskinporten/environment"),
        ({"maskinporten": {"environment": "custom"}}, "/maskinporten/issuer"),
        ({"maskinporten": {"issuer": "https://maskinporten.example.net/"}}, "/maskinporten/issuer"),
        ({"replicas": 2}, "replicas"),
        ({"logging": {"format": "xml"}}, "/logging/format"),
        ({"extraEnv": [{"name": "MASKINPORTEN_OPERATOR_EXTRA", "value": "1"}]}, "/extraEnv/0/name"),
        ({"rbac": {"namespaced": True}}, "/watchNamespaces"),
        ({"rbac": {"namespaced": True}, "watchNamespaces": ["team-*"]}, "/watchNamespaces/0"),
        ({"networkPolicy": {"enabled": True}}, "/networkPolicy/apiServer/cidrs"),
        ({"refresh": {"atLifetimePercent": 95}}, "/refresh/atLifetimePercent"),
    ],
)
def test_values_outside_the_schema_are_refused(
    helm: Helm, values: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(HelmError, match="schema") as refused:
        helm.template(values)
    assert complaint in str(refused.value)


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"retry": {"baseSeconds": 60, "maxSeconds": 30}}, "retry.maxSeconds must not be below"),
        (
            {"leaderElection": {"leaseDurationSeconds": 10, "renewDeadlineSeconds": 10}},
            "leaseDurationSeconds must be above",
        ),
        (
            {"leaderElection": {"renewDeadlineSeconds": 2, "retryPeriodSeconds": 2}},
            "renewDeadlineSeconds must be above",
        ),
    ],
)
def test_inconsistent_values_are_refused_with_a_reason(
    helm: Helm, values: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(HelmError, match=complaint):
        helm.template(values)


@pytest.mark.parametrize("name", ["default", "ha-3-replicas-pdb"])
def test_any_replica_count_rolls_with_the_lease_deciding_who_acts(helm: Helm, name: str) -> None:
    """One replica too: the new pod stands by until the old one releases the Lease."""
    docs = render(helm, name)
    strategy = one(docs, "Deployment")["spec"]["strategy"]
    assert strategy == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    assert container(docs)["args"] == ["run", "--liveness=http://0.0.0.0:8081/healthz"]
    assert plain_env(docs)["MASKINPORTEN_OPERATOR_LEADER_ELECTION_LEASE_NAME"] == FULLNAME


def test_each_replica_knows_its_pod_and_namespace_from_the_downward_api(helm: Helm) -> None:
    fields = {
        entry["name"]: entry["valueFrom"]["fieldRef"]["fieldPath"]
        for entry in container(render(helm, "default"))["env"]
        if "valueFrom" in entry
    }
    assert fields == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}


def test_the_operator_may_create_leases_and_renew_only_its_own(helm: Helm) -> None:
    docs = helm.template({"replicaCount": 2}, namespace="operators")
    (role,) = [r for r in of_kind(docs, "Role") if grants(r, "coordination.k8s.io", "leases")]
    assert role["metadata"]["namespace"] == "operators"
    by_name = {tuple(rule.get("resourceNames", ())): set(rule["verbs"]) for rule in role["rules"]}
    assert by_name == {(): {"create"}, (FULLNAME,): {"get", "update"}}
    assert not grants(one(docs, "ClusterRole"), "coordination.k8s.io", "leases")


def test_no_kopf_peering_is_installed_or_granted(helm: Helm) -> None:
    docs = [*render(helm, "ha-3-replicas-pdb"), *render(helm, "ha-watching-named-namespaces")]
    assert not [doc for doc in docs if doc["apiVersion"].startswith("kopf.dev/")]
    for role in of_kind(docs, "ClusterRole") + of_kind(docs, "Role"):
        assert not [key for key in verbs_by_resource(role) if key[0] == "kopf.dev"]


def test_pod_disruption_budget_keeps_a_replica_during_drains(helm: Helm) -> None:
    docs = render(helm, "ha-3-replicas-pdb")
    budget = one(docs, "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert not of_kind(render(helm, "default"), "PodDisruptionBudget")


def test_environment_values_become_settings(helm: Helm) -> None:
    settings = settings_from_env(plain_env(render(helm, "custom-issuer-allowlist-proxy")))
    assert settings.environment == "custom"
    assert settings.default_issuer == "https://maskinporten.example.net/"
    assert settings.allowed_issuers == (
        "https://test.maskinporten.no/",
        "https://other.example.net/",
    )
    assert settings_from_env(plain_env(render(helm, "prod"))).default_issuer == (
        "https://maskinporten.no/"
    )


def test_proxy_is_used_for_the_authorization_server_but_never_for_the_api_server(
    helm: Helm,
) -> None:
    env = plain_env(render(helm, "custom-issuer-allowlist-proxy"))
    assert env["HTTPS_PROXY"] == "http://proxy.example.net:3128"
    assert env["NO_PROXY"].split(",") == [
        ".corp.example.net",
        "$(KUBERNETES_SERVICE_HOST)",
        "kubernetes.default.svc",
    ]
    assert "HTTPS_PROXY" not in plain_env(render(helm, "default"))


def test_watched_namespaces_reach_the_operator(helm: Helm) -> None:
    env = plain_env(render(helm, "namespaced-rbac"))
    assert env["MASKINPORTEN_OPERATOR_NAMESPACES"] == ",".join(WATCHED)
    assert "MASKINPORTEN_OPERATOR_NAMESPACES" not in plain_env(render(helm, "default"))


def test_cluster_wide_rbac_grants_exactly_what_the_operator_does(helm: Helm) -> None:
    docs = render(helm, "default")
    assert [role["metadata"]["name"] for role in of_kind(docs, "Role")] == [LEASE_ROLE]
    role = one(docs, "ClusterRole")
    assert verbs_by_resource(role) == {
        ("apiextensions.k8s.io", "customresourcedefinitions"): {"get", "list", "watch"},
        ("maskinporten-operator.dev", "maskinportenclients"): {"get", "list", "watch", "patch"},
        ("maskinporten-operator.dev", "maskinportenclients/status"): {"get", "patch"},
        ("", "secrets"): {"get", "list", "watch", "create", "update"},
        ("", "events"): {"create", "patch"},
        ("", "pods"): {"list", "watch", "patch"},
    }
    binding = one(docs, "ClusterRoleBinding")
    account = one(docs, "ServiceAccount")["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]


def test_namespaced_rbac_grants_namespaced_access_only_in_the_watched_namespaces(
    helm: Helm,
) -> None:
    docs = render(helm, "namespaced-rbac")
    cluster_role = one(docs, "ClusterRole")
    assert verbs_by_resource(cluster_role) == {
        ("apiextensions.k8s.io", "customresourcedefinitions"): {"get", "list", "watch"},
        ("", "namespaces"): {"get", "list", "watch"},
    }
    roles = [r for r in of_kind(docs, "Role") if r["metadata"]["name"] != LEASE_ROLE]
    bindings = [b for b in of_kind(docs, "RoleBinding") if b["metadata"]["name"] != LEASE_ROLE]
    assert sorted(r["metadata"]["namespace"] for r in roles) == sorted(WATCHED)
    assert sorted(b["metadata"]["namespace"] for b in bindings) == sorted(WATCHED)
    for role in roles:
        assert grants(role, "", "secrets") == {"get", "list", "watch", "create", "update"}
        assert grants(role, "", "pods") == {"list", "watch", "patch"}


def test_pod_meets_the_restricted_pod_security_standard(helm: Helm) -> None:
    docs = render(helm, "default")
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    security = container(docs)["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert isinstance(security["runAsUser"], int)
    assert security["runAsUser"] > 0
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}


def test_pod_gets_no_service_links(helm: Helm) -> None:
    """Service links would appear as MASKINPORTEN_OPERATOR_* variables for a Service whose name
    starts with maskinporten-operator."""
    pod = one(render(helm, "default"), "Deployment")["spec"]["template"]["spec"]
    assert pod["enableServiceLinks"] is False


def test_probes_ask_kopfs_liveness_endpoint(helm: Helm) -> None:
    operator = container(render(helm, "default"))
    ports = {p["name"]: p["containerPort"] for p in operator["ports"]}
    assert "--liveness=http://0.0.0.0:8081/healthz" in operator["args"]
    assert ports["health"] == 8081
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert operator[probe]["httpGet"] == {"path": "/healthz", "port": "health"}


def test_shutdown_leaves_time_for_in_flight_refreshes(helm: Helm) -> None:
    pod = one(render(helm, "default"), "Deployment")["spec"]["template"]["spec"]
    assert 30 <= pod["terminationGracePeriodSeconds"] <= 60


def test_container_has_resource_requests_and_a_memory_limit(helm: Helm) -> None:
    resources = container(render(helm, "default"))["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert "memory" in resources["limits"]


def test_metrics_service_exposes_the_operators_metrics_port(helm: Helm) -> None:
    docs = render(helm, "default")
    service = one(docs, "Service")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}
    ]
    assert {"name": "metrics", "containerPort": 8080, "protocol": "TCP"} in container(docs)["ports"]
    assert plain_env(docs)["MASKINPORTEN_OPERATOR_METRICS_PORT"] == "8080"


def test_disabled_metrics_turn_the_endpoint_off(helm: Helm) -> None:
    docs = helm.template({"metrics": {"enabled": False}})
    assert plain_env(docs)["MASKINPORTEN_OPERATOR_METRICS_PORT"] == "0"
    assert not of_kind(docs, "Service")


def test_service_monitor_scrapes_the_metrics_service(helm: Helm) -> None:
    docs = render(helm, "metrics-servicemonitor-networkpolicy")
    monitor = one(docs, "ServiceMonitor")
    service = one(docs, "Service")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert not of_kind(render(helm, "default"), "ServiceMonitor")


def test_network_policy_allows_egress_only_to_api_server_authorization_server_and_dns(
    helm: Helm,
) -> None:
    policy = one(render(helm, "metrics-servicemonitor-networkpolicy"), "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    api, auth, dns = policy["egress"]
    assert [peer["ipBlock"]["cidr"] for peer in api["to"]] == ["10.0.0.1/32", "172.18.0.2/32"]
    assert {p["port"] for p in api["ports"]} == {443, 6443}
    assert [peer["ipBlock"]["cidr"] for peer in auth["to"]] == ["185.157.232.0/22"]
    assert auth["ports"] == [{"port": 443, "protocol": "TCP"}]
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    assert policy["ingress"] == [{"ports": [{"port": "metrics", "protocol": "TCP"}]}]


def test_crd_is_installed_and_kept_on_uninstall_by_default(helm: Helm) -> None:
    crd = one(render(helm, "default"), "CustomResourceDefinition")
    assert crd["metadata"]["name"] == "maskinportenclients.maskinporten-operator.dev"
    assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}


def test_crd_can_be_left_to_be_managed_elsewhere(helm: Helm) -> None:
    assert not of_kind(render(helm, "crds-disabled"), "CustomResourceDefinition")


def test_crd_is_released_with_the_chart_when_not_kept(helm: Helm) -> None:
    crd = one(helm.template({"crds": {"keep": False}}), "CustomResourceDefinition")
    assert "annotations" not in crd["metadata"]


def test_image_defaults_to_the_charts_app_version_and_can_be_pinned_by_digest(
    helm: Helm,
) -> None:
    assert container(render(helm, "default"))["image"] == "maskinporten-operator:0.1.0"
    digest = "sha256:" + "ab" * 32
    pinned = helm.template({"image": {"repository": "registry.example.net/mpo", "digest": digest}})
    assert container(pinned)["image"] == f"registry.example.net/mpo:0.1.0@{digest}"


def test_releases_sharding_namespaces_render_without_a_shared_object(helm: Helm) -> None:
    """One release per set of namespaces (the chart README's "Sharding"): only one installs the
    CRD, and each one's operator and Lease stay its own."""
    shards = {
        "shard-a": {"watchNamespaces": ["team-a"], "replicaCount": 2},
        "shard-b": {"watchNamespaces": ["team-b"], "replicaCount": 2, "crds": {"enabled": False}},
    }
    rendered = {
        release: helm.template(values, release=release) for release, values in shards.items()
    }
    names = [
        {(doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"]) for doc in docs}
        for docs in rendered.values()
    ]
    assert not names[0] & names[1]
    for release, docs in rendered.items():
        watched = shards[release]["watchNamespaces"]
        assert plain_env(docs)["MASKINPORTEN_OPERATOR_NAMESPACES"] == ",".join(watched)
        assert plain_env(docs)["MASKINPORTEN_OPERATOR_LEADER_ELECTION_LEASE_NAME"].startswith(
            release
        )
    assert [len(of_kind(docs, "CustomResourceDefinition")) for docs in rendered.values()] == [1, 0]
