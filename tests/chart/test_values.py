"""values.yaml, values.schema.json and the chart's README agree on what the values are."""

from __future__ import annotations

import json
from typing import Any

import yaml

from .helpers import CHART

SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
VALUES: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())


def value_paths(values: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths of the values, descending into those the schema describes field by field."""
    paths = set()
    for key, value in values.items():
        path = prefix + key
        described = schema.get("properties", {}).get(key, {})
        if isinstance(value, dict) and "properties" in described:
            paths |= value_paths(value, described, path + ".")
        else:
            paths.add(path)
    return paths


def schema_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    paths = set()
    for key, described in schema.get("properties", {}).items():
        if "properties" in described:
            paths |= schema_paths(described, prefix + key + ".")
        else:
            paths.add(prefix + key)
    return paths


def test_every_value_in_the_schema_has_a_default() -> None:
    assert value_paths(VALUES, SCHEMA) == schema_paths(SCHEMA) - {"global"}


def test_chart_readme_lists_every_value() -> None:
    readme = (CHART / "README.md").read_text()
    missing = sorted(p for p in value_paths(VALUES, SCHEMA) if f"| `{p}` |" not in readme)
    assert not missing, f"values missing from the table in {CHART / 'README.md'}: {missing}"
