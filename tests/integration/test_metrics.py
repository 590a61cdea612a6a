"""Prometheus metrics: per-resource readiness, expiry and next refresh; token requests."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from maskinporten_operator.credentials.keys import generate_client_key
from maskinporten_testbed.operatorprocess import OperatorProcess
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread

from .helpers import LONG_SCOPE, SCOPE, Cluster, provision


def _samples(operator: OperatorProcess) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(operator.metrics, timeout=5).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_report_each_resources_readiness_expiry_and_next_refresh(
    cluster: Cluster, standin: StandinThread, operator: OperatorProcess
) -> None:
    provision(cluster, standin, "scraped", scopes=(LONG_SCOPE,))
    cluster.put_secret(
        "failing-maskinporten-key", {"jwk": generate_client_key().private_jwk_json()}
    )
    cluster.create_client(
        "failing", {"clientId": "nobody", "scopes": {"consumes": [{"name": SCOPE}]}}
    )
    cluster.wait_condition("scraped", status="True")
    cluster.wait_condition("failing", status="False")
    scraped = frozenset({("namespace", cluster.namespace), ("name", "scraped")})
    failing = frozenset({("namespace", cluster.namespace), ("name", "failing")})
    samples = eventually(
        lambda: (s := _samples(operator)) and ("maskinporten_operator_ready", failing) in s and s,
        what="both resources in the metrics",
    )
    assert samples[("maskinporten_operator_ready", scraped)] == 1.0
    assert samples[("maskinporten_operator_ready", failing)] == 0.0
    expiry = samples[("maskinporten_operator_token_expiration_timestamp_seconds", scraped)]
    refresh = samples[("maskinporten_operator_next_refresh_timestamp_seconds", scraped)]
    assert refresh < expiry
    assert ("maskinporten_operator_token_expiration_timestamp_seconds", failing) not in samples


def test_metrics_count_token_requests_by_result_and_reason(
    cluster: Cluster, standin: StandinThread, operator: OperatorProcess
) -> None:
    provision(cluster, standin, "counted")
    cluster.wait_condition("counted", status="True")
    samples = _samples(operator)
    success = frozenset({("result", "success"), ("reason", "TokenIssued")})
    assert samples[("maskinporten_operator_token_requests_total", success)] >= 1
    assert samples[("maskinporten_operator_token_request_duration_seconds_count", frozenset())] >= 1
    assert samples[("maskinporten_operator_managed_resources", frozenset())] >= 1
