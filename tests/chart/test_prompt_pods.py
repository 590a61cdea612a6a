"""tokenDelivery.promptPods: the pod permissions prompting needs, the policy that bounds them to
one annotation, and how to turn both off (``helm template``, no cluster needed)."""

from __future__ import annotations

from typing import Any

import pytest

from maskinporten_operator.settings import settings_from_env

from .helpers import Helm, HelmError, grants, of_kind, one, plain_env

PROMPT_PODS = "MASKINPORTEN_OPERATOR_PROMPT_PODS"
POLICY_KINDS = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
OFF = {"tokenDelivery": {"promptPods": False}}
NAMESPACED = {"rbac": {"namespaced": True}, "watchNamespaces": ["team-a", "team-b"]}


def username_condition(docs: list[dict[str, Any]]) -> str:
    (condition,) = one(docs, "ValidatingAdmissionPolicy")["spec"]["matchConditions"]
    expression: str = condition["expression"]
    return expression


def test_prompting_is_on_by_default_with_the_operators_own_default(helm: Helm) -> None:
    """The operator prompts unless told not to: the chart sets nothing."""
    env = plain_env(helm.template({}))

    assert PROMPT_PODS not in env
    assert settings_from_env(env).prompt_pods is True


def test_prompting_off_reaches_the_operator(helm: Helm) -> None:
    assert settings_from_env(plain_env(helm.template(OFF))).prompt_pods is False


def test_prompting_grants_list_watch_and_patch_on_pods_cluster_wide(helm: Helm) -> None:
    assert grants(one(helm.template({}), "ClusterRole"), "", "pods") == {"list", "watch", "patch"}


def test_prompting_with_namespaced_rbac_grants_pods_only_in_the_watched_namespaces(
    helm: Helm,
) -> None:
    docs = helm.template(NAMESPACED)

    assert not grants(one(docs, "ClusterRole"), "", "pods")
    granting = {
        role["metadata"]["namespace"]: grants(role, "", "pods")
        for role in of_kind(docs, "Role")
        if grants(role, "", "pods")
    }
    assert granting == {"team-a": {"list", "watch", "patch"}, "team-b": {"list", "watch", "patch"}}


def test_prompting_off_drops_the_pod_permissions_and_the_policy_and_tells_the_operator(
    helm: Helm,
) -> None:
    for values in (OFF, {**NAMESPACED, **OFF}):
        docs = helm.template(values)

        assert plain_env(docs)[PROMPT_PODS] == "false"
        assert not [
            r for r in of_kind(docs, "ClusterRole") + of_kind(docs, "Role") if grants(r, "", "pods")
        ]
        assert not [d for d in docs if d["kind"] in POLICY_KINDS]


def test_policy_is_bound_to_deny_for_the_releases_service_account(helm: Helm) -> None:
    docs = helm.template({}, namespace="operators", release="mpo")
    policy = one(docs, "ValidatingAdmissionPolicy")
    binding = one(docs, "ValidatingAdmissionPolicyBinding")

    assert binding["spec"] == {
        "policyName": policy["metadata"]["name"],
        "validationActions": ["Deny"],
    }
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert username_condition(docs) == (
        "request.userInfo.username == 'system:serviceaccount:operators:mpo-maskinporten-operator'"
    )


def test_policy_follows_a_named_service_account(helm: Helm) -> None:
    values = {"serviceAccount": {"create": False, "name": "shared-operators"}}

    docs = helm.template(values, namespace="platform")

    assert username_condition(docs).endswith("'system:serviceaccount:platform:shared-operators'")


def test_policy_covers_every_operation_on_pods_and_their_subresources(helm: Helm) -> None:
    (rule,) = one(helm.template({}), "ValidatingAdmissionPolicy")["spec"]["matchConstraints"][
        "resourceRules"
    ]

    assert rule == {
        "apiGroups": [""],
        "apiVersions": ["*"],
        "operations": ["*"],
        "resources": ["pods", "pods/*"],
    }


def test_prompting_on_a_cluster_older_than_1_30_is_refused_with_the_way_out(helm: Helm) -> None:
    with pytest.raises(HelmError, match=r"needs Kubernetes 1\.30 or later") as refused:
        helm.template({}, kube_version="1.29.9")

    assert "tokenDelivery.promptPods=false" in str(refused.value)


def test_prompting_off_installs_on_a_cluster_older_than_1_30(helm: Helm) -> None:
    assert not [d for d in helm.template(OFF, kube_version="1.29.9") if d["kind"] in POLICY_KINDS]
