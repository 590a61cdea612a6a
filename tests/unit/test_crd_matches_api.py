"""The CRD's schema (what the API server accepts) and the pydantic model (what the operator and
the CLI accept) describe the same spec: the same fields, each with the same type, pattern,
limits, enum and default. Both are walked as they are, field by field, so that a field added
to one and not the other, or a limit changed in one only, shows here. Each of the spec's CEL
rules has a counterpart among the model's validators, which refuses what the rule refuses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from maskinporten_operator.api import VERSION, ClientSpec, InvalidSpecError, parse_spec

CRD = (
    Path(__file__).resolve().parents[2]
    / "crds"
    / "maskinportenclients.maskinporten-operator.dev.yaml"
)
CONSTRAINTS = (
    "type",
    "pattern",
    "maxLength",
    "minLength",
    "maxItems",
    "minItems",
    "minimum",
    "maximum",
    "enum",
)
Schema = dict[str, Any]


def crd_spec_schema() -> Schema:
    crd = yaml.safe_load(CRD.read_text())
    (version,) = (v for v in crd["spec"]["versions"] if v["name"] == VERSION)
    spec: Schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return spec


def model_spec_schema() -> Schema:
    """The model's JSON schema (camelCase aliases) with every ``$ref`` inlined and every
    optional field (``X | None``) read as its ``X``: an absent field is how the CRD says None."""
    schema = ClientSpec.model_json_schema(by_alias=True)
    definitions: dict[str, Schema] = schema.pop("$defs", {})

    def resolve(node: Schema) -> Schema:
        outer = {key: value for key, value in node.items() if key not in ("$ref", "anyOf")}
        if "$ref" in node:
            node = {**resolve(definitions[node["$ref"].rsplit("/", 1)[1]]), **outer}
        if "anyOf" in node:
            (present,) = (branch for branch in node["anyOf"] if branch != {"type": "null"})
            node = {**resolve(present), **outer}
        resolved = dict(node)
        if "properties" in node:
            resolved["properties"] = {k: resolve(v) for k, v in node["properties"].items()}
        if "items" in node:
            resolved["items"] = resolve(node["items"])
        return resolved

    return resolve(schema)


def fields(crd: Schema, model: Schema, path: str = "spec") -> Iterator[tuple[str, Schema, Schema]]:
    """Every field both describe, with the CRD's and the model's schema of it."""
    yield path, crd, model
    crd_properties, model_properties = crd.get("properties", {}), model.get("properties", {})
    for name in sorted(crd_properties.keys() & model_properties.keys()):
        yield from fields(crd_properties[name], model_properties[name], f"{path}.{name}")
    if "items" in crd and "items" in model:
        yield from fields(crd["items"], model["items"], f"{path}[]")


def crd_default(node: Schema) -> Any:
    """The default as the API server applies it: an object's default gets its fields' defaults."""
    default = node["default"]
    if isinstance(default, dict):
        return {
            **{
                name: crd_default(field)
                for name, field in node.get("properties", {}).items()
                if "default" in field
            },
            **default,
        }
    return default


def model_default(default: Any) -> Any:
    """The model's default without its None fields (absent, in the CRD's terms)."""
    if isinstance(default, dict):
        return {k: model_default(v) for k, v in default.items() if v is not None}
    return default


FIELDS = list(fields(crd_spec_schema(), model_spec_schema()))


def test_crd_and_model_have_the_same_fields_at_every_level() -> None:
    differences = {}
    for path, crd, model in FIELDS:
        in_crd, in_model = crd.get("properties", {}).keys(), model.get("properties", {}).keys()
        if in_crd != in_model:
            differences[path] = (sorted(in_crd - in_model), sorted(in_model - in_crd))

    assert differences == {}, "path: (only in the CRD, only in the model)"


def test_crd_and_model_require_the_same_fields() -> None:
    differences = {
        path: (crd.get("required"), model.get("required"))
        for path, crd, model in FIELDS
        if sorted(crd.get("required", [])) != sorted(model.get("required", []))
    }

    assert differences == {}, "path: (the CRD's, the model's)"


@pytest.mark.parametrize("keyword", CONSTRAINTS)
def test_crd_and_model_give_every_field_the_same(keyword: str) -> None:
    differences = {
        path: (crd.get(keyword), model.get(keyword))
        for path, crd, model in FIELDS
        if crd.get(keyword) != model.get(keyword)
    }

    assert differences == {}, "path: (the CRD's, the model's)"


def test_crd_and_model_give_the_same_default_where_both_give_one() -> None:
    both = [
        (path, crd_default(crd), model_default(model["default"]))
        for path, crd, model in FIELDS
        if "default" in crd and model.get("default") is not None
    ]
    differences = {path: (crd, model) for path, crd, model in both if crd != model}

    assert both, "no field has a default in both"
    assert differences == {}, "path: (the CRD's, the model's)"


CLIENT = {"clientId": "c", "scopes": {"consumes": [{"name": "a:read"}]}}
MANAGED = {"scopes": {"consumes": [{"name": "a:read"}]}}
CEL_RULE_COUNTERPARTS: dict[str, tuple[Schema, str]] = {
    "registration.adopt takes over an existing client: set clientId": (
        {**MANAGED, "registration": {"adopt": True}},
        "registration.adopt takes over an existing client",
    ),
    "registration.deletionPolicy Delete cannot go with adopt: the operator never deletes a "
    "client it did not create": (
        {**CLIENT, "registration": {"adopt": True, "deletionPolicy": "Delete"}},
        "registration.deletionPolicy Delete cannot go with adopt",
    ),
    "registration with clientId needs adopt: true (or leave out clientId to let the operator "
    "create the client)": (
        {**CLIENT, "registration": {}},
        "registration with clientId needs adopt: true",
    ),
    "a managed client's keys are generated by the operator: leave out key.source Existing, or "
    "give the clientId of a client whose key you registered yourself": (
        {**MANAGED, "key": {"source": "Existing"}},
        "leave out key.source Existing",
    ),
    "a managed client's keys are generated and rotated by the operator in the layout it "
    "chooses: remove key.keyId, key.secretKey, key.passwordSecretRef and key.mode (other than "
    "Auto)": (
        {**MANAGED, "key": {"keyId": "k-1"}},
        "remove key.keyId",
    ),
    "key.deletionPolicy Delete applies only to keys the operator generated (key.source "
    "Generated); the operator never deletes a key you brought": (
        {**CLIENT, "key": {"source": "Existing", "deletionPolicy": "Delete"}},
        "key.deletionPolicy Delete applies only to keys the operator generated",
    ),
    "secretName and key.secretName must differ: workloads must not mount the key Secret by "
    "accident": (
        {**CLIENT, "secretName": "shared", "key": {"secretName": "shared"}},
        "secretName and key.secretName must differ",
    ),
    "resource, resources, tokens[].resource, consumerOrg, systemUserOrg and authorizationDetails "
    "apply to grantType JwtBearer (Maskinporten) only": (
        {**CLIENT, "grantType": "ClientCredentials", "consumerOrg": "987654321"},
        "apply to grantType JwtBearer (Maskinporten) only",
    ),
    "grantType ClientCredentials is for another authorization server, where the operator "
    "registers nothing: give that server's clientId and leave out registration": (
        {**MANAGED, "grantType": "ClientCredentials"},
        "give that server's clientId and leave out registration",
    ),
    "systemUserOrg is a shorthand for an authorizationDetails entry of type "
    "urn:altinn:systemuser: give one or the other": (
        {
            **CLIENT,
            "systemUserOrg": "987654321",
            "authorizationDetails": [
                {"type": "urn:altinn:systemuser", "systemuserOrg": "987654321"}
            ],
        },
        "systemUserOrg is a shorthand",
    ),
    "each authorizationDetails type at most once: Maskinporten takes one system user and one "
    "consent per request": (
        {
            **CLIENT,
            "authorizationDetails": [
                {"type": "urn:altinn:systemuser", "systemuserOrg": "987654321"},
                {"type": "urn:altinn:systemuser", "systemuserOrg": "912345678"},
            ],
        },
        "each authorizationDetails type at most once",
    ),
    "Maskinporten scopes are named prefix:name (such as skatteetaten:mva): another server's "
    "scope names need grantType ClientCredentials": (
        {**CLIENT, "scopes": {"consumes": [{"name": "weather.read"}]}},
        "Maskinporten scopes are named prefix:name",
    ),
    "set resource or resources, not both": (
        {**CLIENT, "resource": "https://a.example/", "resources": ["https://b.example/"]},
        "set resource or resources, not both",
    ),
    "every scope in tokens[].scopes must be listed in scopes.consumes": (
        {**CLIENT, "tokens": [{"name": "other", "scopes": ["b:read"]}]},
        "not listed in scopes.consumes",
    ),
}
"""Each CEL rule of the CRD's spec (by its message): a spec that breaks it alone, and what the
model's refusal of that spec says."""


def test_every_cel_rule_of_the_crds_spec_has_a_counterpart_in_the_model() -> None:
    messages = {rule["message"] for rule in crd_spec_schema()["x-kubernetes-validations"]}

    assert messages == CEL_RULE_COUNTERPARTS.keys()


@pytest.mark.parametrize("message", CEL_RULE_COUNTERPARTS)
def test_model_refuses_what_each_cel_rule_of_the_crds_spec_refuses(message: str) -> None:
    spec, refusal = CEL_RULE_COUNTERPARTS[message]

    with pytest.raises(InvalidSpecError, match=re.escape(refusal)):
        parse_spec(spec)
