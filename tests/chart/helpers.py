"""Rendering the Helm chart: helm and kubectl from the test bed's tool set, representative value
sets, and small verbs to pick objects out of the rendered manifests."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import yaml

from maskinporten_testbed import binaries

REPO = Path(__file__).resolve().parent.parent.parent
CHART = REPO / "charts" / "maskinporten-operator"
KUBE_VERSION = binaries.KUBERNETES_VERSION
RELEASE = "mpo"
FULLNAME = f"{RELEASE}-maskinporten-operator"
SERVICE_ACCOUNT_KINDS = (
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
)


def tool(tool_set: binaries.ToolSet, name: str) -> Path:
    """A test-bed binary, built from the Go module proxy on first use and cached."""
    if not tool_set.is_built():
        binaries.build(tool_set)
    return tool_set.path(name)


def value_sets(watched: tuple[str, str]) -> dict[str, dict[str, Any]]:
    """Representative installations; ``watched`` names two namespaces for the namespaced ones."""
    return {
        "default": {},
        "prod": {"maskinporten": {"environment": "prod"}},
        "custom-issuer-allowlist-proxy": {
            "maskinporten": {
                "environment": "custom",
                "issuer": "https://maskinporten.example.net",
                "allowedIssuers": ["https://test.maskinporten.no/", "https://other.example.net/"],
            },
            "proxy": {
                "httpsProxy": "http://proxy.example.net:3128",
                "noProxy": ".corp.example.net",
            },
        },
        "namespaced-rbac": {"rbac": {"namespaced": True}, "watchNamespaces": list(watched)},
        "ha-3-replicas-pdb": {"replicaCount": 3, "podDisruptionBudget": {"enabled": True}},
        "ha-watching-named-namespaces": {
            "replicaCount": 2,
            "rbac": {"namespaced": True},
            "watchNamespaces": list(watched),
        },
        "metrics-servicemonitor-networkpolicy": {
            "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
            "networkPolicy": {
                "enabled": True,
                "apiServer": {"cidrs": ["10.0.0.1/32", "172.18.0.2/32"]},
                "authorizationServer": {"cidrs": ["185.157.232.0/22"]},
            },
        },
        "crds-disabled": {"crds": {"enabled": False}},
        "prompt-pods-off": {"tokenDelivery": {"promptPods": False}},
    }


VALUE_SET_NAMES = tuple(value_sets(("a", "b")))


class HelmError(Exception):
    pass


@dataclass(frozen=True)
class Helm:
    binary: Path

    def _run(self, *args: str, values: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
            json.dump(values, file)
            file.flush()
            return subprocess.run(
                [str(self.binary), *args, "--values", file.name],
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )

    def lint(self, values: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return self._run(
            "lint", "--strict", "--kube-version", KUBE_VERSION, str(CHART), values=values
        )

    def template_text(
        self,
        values: dict[str, Any],
        *,
        namespace: str = "operators",
        include_crds: bool = False,
        release: str = RELEASE,
        kube_version: str = KUBE_VERSION,
    ) -> str:
        args = ["template", release, str(CHART), "--namespace", namespace]
        args += ["--kube-version", kube_version]
        if include_crds:
            args.append("--include-crds")
        result = self._run(*args, values=values)
        if result.returncode != 0:
            raise HelmError(result.stderr)
        return result.stdout

    def template(
        self,
        values: dict[str, Any],
        *,
        namespace: str = "operators",
        include_crds: bool = False,
        release: str = RELEASE,
        kube_version: str = KUBE_VERSION,
    ) -> list[dict[str, Any]]:
        text = self.template_text(
            values,
            namespace=namespace,
            include_crds=include_crds,
            release=release,
            kube_version=kube_version,
        )
        return [doc for doc in yaml.safe_load_all(text) if doc]


def create_namespace(core: kubernetes.client.CoreV1Api, name: str) -> str:
    """A namespace held to the restricted Pod Security standard, so that the API server warns
    about a pod template that breaks it. Chart tests name theirs so that no other test's operator
    watches them (the integration tests' operator watches ``test-*``)."""
    labels = {
        f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")
    }
    core.create_namespace(
        kubernetes.client.V1Namespace(
            metadata=kubernetes.client.V1ObjectMeta(name=name, labels=labels)
        )
    )
    return name


def of_kind(docs: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: Iterable[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = of_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def container(docs: Iterable[dict[str, Any]]) -> dict[str, Any]:
    spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert len(spec["containers"]) == 1
    found: dict[str, Any] = spec["containers"][0]
    return found


def plain_env(docs: Iterable[dict[str, Any]]) -> dict[str, str]:
    """The container's environment variables that have a literal value."""
    return {e["name"]: e["value"] for e in container(docs)["env"] if "value" in e}


def verbs_by_resource(role: dict[str, Any]) -> dict[tuple[str, str], frozenset[str]]:
    """Every verb a Role or ClusterRole grants, by (apiGroup, resource), resourceNames or not."""
    verbs: dict[tuple[str, str], frozenset[str]] = {}
    for rule in role.get("rules") or []:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                key = (group, resource)
                verbs[key] = verbs.get(key, frozenset()) | frozenset(rule["verbs"])
    return verbs


def grants(role: dict[str, Any], group: str, resource: str) -> frozenset[str]:
    return verbs_by_resource(role).get((group, resource), frozenset())


def to_yaml(docs: Iterable[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(list(docs), sort_keys=False)


def kubectl(binary: Path, kubeconfig: Path, *args: str, manifests: str) -> None:
    subprocess.run(
        [str(binary), "--kubeconfig", str(kubeconfig), *args, "-f", "-"],
        input=manifests,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def token_kubeconfig(admin: Path, token: str, path: Path) -> Path:
    """A kubeconfig for the same API server as ``admin``, authenticating with ``token``."""
    config = yaml.safe_load(admin.read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    cluster = next(c for c in config["clusters"] if c["name"] == context["context"]["cluster"])
    authority = cluster["cluster"].get("certificate-authority")
    if authority:
        cluster["cluster"]["certificate-authority"] = str(admin.parent / authority)
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster],
                "users": [{"name": "operator", "user": {"token": token}}],
                "contexts": [
                    {
                        "name": "operator",
                        "context": {"cluster": cluster["name"], "user": "operator"},
                    }
                ],
                "current-context": "operator",
            }
        )
    )
    path.chmod(0o600)
    return path


def service_account_token(core: kubernetes.client.CoreV1Api, account: str, namespace: str) -> str:
    """A token for the ServiceAccount ``namespace/account``, valid for an hour (TokenRequest)."""
    token_request = kubernetes.client.AuthenticationV1TokenRequest(
        spec=kubernetes.client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
    )
    issued = core.create_namespaced_service_account_token(account, namespace, token_request)
    assert issued.status is not None
    assert issued.status.token is not None
    token: str = issued.status.token
    return token
