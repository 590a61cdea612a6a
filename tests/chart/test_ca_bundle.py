"""maskinporten.caBundle: a ConfigMap's or Secret's key mounted into the pod, and the operator's
MASKINPORTEN_OPERATOR_CA_BUNDLE pointing at it (``helm template``, no cluster needed)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import pytest

from .helpers import Helm, HelmError, container, one, plain_env

CA_BUNDLE = "MASKINPORTEN_OPERATOR_CA_BUNDLE"


def with_ca_bundle(**ca_bundle: str) -> dict[str, Any]:
    return {
        "maskinporten": {
            "environment": "custom",
            "issuer": "https://idp.internal.example/",
            "caBundle": ca_bundle,
        }
    }


def pod_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = one(docs, "Deployment")["spec"]["template"]["spec"]
    return spec


def mounted_file(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], PurePosixPath]:
    """The volume behind MASKINPORTEN_OPERATOR_CA_BUNDLE, and the file's path in that volume."""
    path = PurePosixPath(plain_env(docs)[CA_BUNDLE])
    [mount] = [m for m in container(docs)["volumeMounts"] if path.is_relative_to(m["mountPath"])]
    assert mount["readOnly"] is True
    [volume] = [v for v in pod_spec(docs)["volumes"] if v["name"] == mount["name"]]
    return volume, path.relative_to(mount["mountPath"])


def test_no_ca_bundle_by_default(helm: Helm) -> None:
    docs = helm.template({})

    assert CA_BUNDLE not in plain_env(docs)
    assert [v["name"] for v in pod_spec(docs)["volumes"]] == ["tmp"]


def test_ca_bundle_from_a_config_map_is_the_file_the_setting_names(helm: Helm) -> None:
    docs = helm.template(with_ca_bundle(configMap="issuer-ca"))

    volume, file = mounted_file(docs)

    assert volume["configMap"] == {
        "name": "issuer-ca",
        "items": [{"key": "ca.crt", "path": str(file)}],
    }


def test_ca_bundle_from_a_secret_under_another_key_is_the_file_the_setting_names(
    helm: Helm,
) -> None:
    docs = helm.template(with_ca_bundle(secret="issuer-ca", key="bundle.pem"))

    volume, file = mounted_file(docs)

    assert volume["secret"] == {
        "secretName": "issuer-ca",
        "items": [{"key": "bundle.pem", "path": str(file)}],
    }


def test_ca_bundle_from_both_a_config_map_and_a_secret_is_refused(helm: Helm) -> None:
    with pytest.raises(HelmError, match="set configMap or secret, not both"):
        helm.template(with_ca_bundle(configMap="issuer-ca", secret="issuer-ca"))


@pytest.mark.parametrize(
    ("ca_bundle", "complaint"),
    [
        ({"configMap": "Issuer_CA"}, "/maskinporten/caBundle/configMap"),
        ({"secret": "issuer-ca", "key": "ca/crt"}, "/maskinporten/caBundle/key"),
        ({"configmap": "issuer-ca"}, "configmap"),
    ],
)
def test_ca_bundle_values_outside_the_schema_are_refused(
    helm: Helm, ca_bundle: dict[str, str], complaint: str
) -> None:
    with pytest.raises(HelmError, match="schema") as refused:
        helm.template(with_ca_bundle(**ca_bundle))

    assert complaint in str(refused.value)


def test_chart_with_a_ca_bundle_lints_cleanly(helm: Helm) -> None:
    result = helm.lint(with_ca_bundle(secret="issuer-ca"))

    assert result.returncode == 0, result.stdout + result.stderr
