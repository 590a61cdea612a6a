"""The chart carries the repository's CRDs (crds/ is the single source of truth)."""

from __future__ import annotations

import yaml

from .helpers import CHART, REPO, Helm, of_kind

CHART_COPY = CHART / "files" / "crds"
REFRESH = "cp crds/*.yaml charts/maskinporten-operator/files/crds/"


def test_chart_carries_a_byte_identical_copy_of_the_crds() -> None:
    source = {p.name: p.read_bytes() for p in (REPO / "crds").glob("*.yaml")}
    copy = {p.name: p.read_bytes() for p in CHART_COPY.glob("*.yaml")}
    assert source, "no CRDs in crds/"
    assert copy.keys() == source.keys(), f"the chart's CRD files differ from crds/; run {REFRESH}"
    stale = sorted(name for name in source if copy[name] != source[name])
    assert not stale, f"the chart's copy of {stale} is stale; run {REFRESH}"


def test_rendered_crds_are_the_sources_with_the_charts_labels_added(helm: Helm) -> None:
    rendered = {
        crd["metadata"]["name"]: crd
        for crd in of_kind(helm.template({"crds": {"keep": False}}), "CustomResourceDefinition")
    }
    for path in sorted((REPO / "crds").glob("*.yaml")):
        source = yaml.safe_load(path.read_text())
        crd = rendered.pop(source["metadata"]["name"])
        labels = crd["metadata"].pop("labels")
        assert source["metadata"].pop("labels").items() <= labels.items()
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        source["metadata"].pop("annotations", None)
        assert crd == source
    assert not rendered, f"rendered CRDs not in crds/: {sorted(rendered)}"
