"""The README's Prometheus alerts, read from the README, and a tiny evaluator for exactly the
PromQL shapes they use, over the operator's ``/metrics`` text.

The shapes: metric names, ``timestamp(...)``, parentheses, ``-``, ``<`` (a filter, as without
``bool``) and ``or``, with PromQL's precedence (``-`` over ``<`` over ``or``) and one-to-one
vector matching on all labels. Anything else is refused, so that a README alert the evaluator
cannot read fails the tests instead of being misread.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

README = Path(__file__).resolve().parents[2] / "README.md"

Labels = frozenset[tuple[str, str]]
Vector = dict[Labels, float]

TOKEN = re.compile(r"\s*(timestamp\(|[a-z_:][a-z0-9_:]*|[()<-])", re.IGNORECASE)


def readme_alert(name: str) -> str:
    """The ``expr`` of the alert ``name`` in the README's ```yaml blocks; KeyError without."""
    for block in re.findall(r"```yaml\n(.*?)```", README.read_text(), re.DOTALL):
        rules = yaml.safe_load(block)
        if not isinstance(rules, list):
            continue
        for rule in rules:
            if isinstance(rule, dict) and rule.get("alert") == name:
                return str(rule["expr"])
    raise KeyError(f"no alert {name} in {README}")


def scraped(text: str, at: float) -> Mapping[str, tuple[Vector, float]]:
    """Each series in ``/metrics`` ``text`` by name, as a vector, with ``at``, the scrape's
    time (what ``timestamp()`` returns)."""
    samples: dict[str, tuple[Vector, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            vector, _ = samples.setdefault(sample.name, ({}, at))
            vector[frozenset(sample.labels.items())] = sample.value
    return samples


def firing(expr: str, metrics: Mapping[str, tuple[Vector, float]]) -> set[Labels]:
    """The label sets for which ``expr`` returns a sample: those the alert fires for."""
    parser = _Parser(expr, metrics)
    result = parser.union()
    if parser.tokens:
        raise ValueError(f"unexpected {parser.tokens[0]!r} in {expr!r}")
    return set(result)


class _Parser:
    def __init__(self, expr: str, metrics: Mapping[str, tuple[Vector, float]]) -> None:
        self.tokens = _tokens(expr)
        self.metrics = metrics

    def union(self) -> Vector:
        left = self.comparison()
        while self._take("or"):
            right = self.comparison()
            left = {**right, **left}
        return left

    def comparison(self) -> Vector:
        left = self.difference()
        while self._take("<"):
            left = _matched(left, self.difference(), lambda a, b: a if a < b else None)
        return left

    def difference(self) -> Vector:
        left = self.primary()
        while self._take("-"):
            left = _matched(left, self.primary(), lambda a, b: a - b)
        return left

    def primary(self) -> Vector:
        token = self.tokens.pop(0)
        if token == "(":
            inner = self.union()
            self._expect(")")
            return inner
        if token == "timestamp(":
            vector, at = self._series(self.tokens.pop(0))
            self._expect(")")
            return dict.fromkeys(vector, at)
        return dict(self._series(token)[0])

    def _series(self, name: str) -> tuple[Vector, float]:
        """The scraped series of the metric ``name``; a name the operator does not export
        (a typo in the README) is an error, not an alert that never fires."""
        if name not in self.metrics:
            raise ValueError(f"{name!r} is not among the operator's metrics")
        return self.metrics[name]

    def _take(self, token: str) -> bool:
        if self.tokens and self.tokens[0] == token:
            self.tokens.pop(0)
            return True
        return False

    def _expect(self, token: str) -> None:
        if not self._take(token):
            raise ValueError(f"expected {token!r}, found {self.tokens[:1]}")


def _tokens(expr: str) -> list[str]:
    tokens, position, text = [], 0, expr.strip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"the evaluator does not read {text[position:]!r}")
        tokens.append(match.group(1))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return tokens


def _matched(left: Vector, right: Vector, operation: Callable[[float, float], Any]) -> Vector:
    """One-to-one matching on all labels; ``operation`` returning None drops the sample."""
    results = {
        labels: operation(value, right[labels]) for labels, value in left.items() if labels in right
    }
    return {labels: value for labels, value in results.items() if value is not None}
