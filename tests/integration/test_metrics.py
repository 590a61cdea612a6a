"""Prometheus metrics: per-resource readiness, expiry, next refresh and delivery bound; token
requests."""

from __future__ import annotations

from maskinporten_operator.credentials.keys import generate_client_key
from maskinporten_testbed.operatorprocess import OperatorProcess
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread

from .helpers import LONG_SCOPE, SCOPE, Cluster, provision

READY = "maskinporten_operator_ready"
EXPIRY = "maskinporten_operator_token_expiration_timestamp_seconds"
NEXT_REFRESH = "maskinporten_operator_next_refresh_timestamp_seconds"
DELIVERY = "maskinporten_operator_token_delivery_seconds"


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
    scraped = {"namespace": cluster.namespace, "name": "scraped"}
    failing = {"namespace": cluster.namespace, "name": "failing"}
    eventually(
        lambda: (operator.metric(READY, **scraped), operator.metric(READY, **failing)) == (1, 0),
        what="the metrics to report scraped ready and failing not ready",
    )

    expiry, refresh = operator.metric(EXPIRY, **scraped), operator.metric(NEXT_REFRESH, **scraped)
    assert expiry is not None
    assert refresh is not None
    assert refresh < expiry
    assert operator.metric(DELIVERY, **scraped) == 90  # the kubelet's own sync
    assert operator.metric(EXPIRY, **failing) is None


def test_metrics_count_token_requests_by_result_and_reason(
    cluster: Cluster, standin: StandinThread, operator: OperatorProcess
) -> None:
    provision(cluster, standin, "counted")
    cluster.wait_condition("counted", status="True")

    requests = operator.metric(
        "maskinporten_operator_token_requests_total",
        result="success",
        reason="TokenIssued",
        code="",
    )
    timed = operator.metric("maskinporten_operator_token_request_duration_seconds_count")
    managed = operator.metric("maskinporten_operator_managed_resources")
    assert requests is not None
    assert requests >= 1
    assert timed is not None
    assert timed >= 1
    assert managed is not None
    assert managed >= 1


def test_the_replica_that_leads_says_so(operator: OperatorProcess) -> None:
    assert operator.metric("maskinporten_operator_leader") == 1
