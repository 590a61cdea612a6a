"""kube-apiserver stops mid-refresh and comes back on the same etcd: the operator reconnects
without a restart of its own, loses no Secret, regenerates no key, and every resource is Ready
again with a token issued after the API server came back."""

from __future__ import annotations

import time

import pytest

from maskinporten_testbed.controlplane import LocalControlPlane
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread
from tests.integration.helpers import provision

from .bed import (
    LOOP_RESTART_MARKERS,
    QUICK_LIFETIME,
    QUICK_SCOPE,
    FaultBed,
    crashes,
    key_ids,
    report,
    scaled,
    secret_names,
    summary,
)


def test_operator_reconnects_after_the_api_server_restarts_and_loses_nothing(
    bed: FaultBed, standin: StandinThread, control_plane: LocalControlPlane | None
) -> None:
    if control_plane is None:
        pytest.skip("an existing cluster's API server cannot be stopped by the tests")
    cluster = bed.namespace()
    operator = bed.start_operator()
    names = [f"api-{i}" for i in range(scaled(4, 12))]
    generated = "api-generated"
    for name in names:
        provision(cluster, standin, name, scopes=(QUICK_SCOPE,))
    cluster.create_client(
        generated, {"clientId": "unregistered", "scopes": {"consumes": [{"name": QUICK_SCOPE}]}}
    )
    bed.ready_within(cluster, names)
    eventually(lambda: cluster.get_client(generated).get("status", {}).get("keyId"), what="a key")
    secrets_before, kids_before = secret_names(cluster), key_ids(cluster)

    control_plane.stop_apiserver()
    time.sleep(scaled(QUICK_LIFETIME // 2, 2 * QUICK_LIFETIME))  # refreshes fall due meanwhile
    control_plane.start_apiserver()
    back = time.time()
    recovery = bed.ready_within(cluster, names, since=back)

    secrets_after, kids_after = secret_names(cluster), key_ids(cluster)
    log = bed.logs()
    report(
        "apiserver-restart",
        resources=len(names) + 1,
        down_s=float(scaled(QUICK_LIFETIME // 2, 2 * QUICK_LIFETIME)),
        recovery_s=summary(list(recovery.values())),
        operator_restarts=len(bed.operators) - 1 + (operator.process.poll() is not None),
        secrets_lost=len(secrets_before - secrets_after),
        keys_regenerated=sum(kids_after.get(n) != kid for n, kid in kids_before.items()),
        loop_restarts=len(crashes(log, LOOP_RESTART_MARKERS)),
        tracebacks=log.count("Traceback"),
    )
    assert operator.process.poll() is None
    assert secrets_before - secrets_after == set()
    assert kids_before == kids_after
    assert crashes(log, LOOP_RESTART_MARKERS) == []
