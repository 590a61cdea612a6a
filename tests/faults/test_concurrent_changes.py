"""Others change what the operator manages while it works: a concurrent writer of the workload
Secret and of the status (409 conflicts on both sides), a deleted or tampered workload Secret,
a namespace deleted while its resources are being refreshed, a resource deleted and re-created
with the same name. Nothing is lost, every resource ends up Ready, nothing is left behind."""

from __future__ import annotations

import threading
import time
from typing import Any

import kubernetes

from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread
from tests.integration.helpers import GROUP, PLURAL, VERSION, Cluster, provision

from .bed import (
    DEADLINE,
    QUICK_LIFETIME,
    QUICK_SCOPE,
    FaultBed,
    crashes,
    report,
    scaled,
    summary,
    token_of,
    written_at,
)


class ConcurrentWriter:
    """Rewrites the workload Secrets (an annotation) and the status (a condition of its own)
    of resources, read-modify-write with the resourceVersion read, as another controller does;
    counts its own 409s and the Secrets it ever found missing."""

    def __init__(self, cluster: Cluster, names: list[str]) -> None:
        self.cluster, self.names = cluster, names
        self.writes = self.conflicts = 0
        self.missing: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ConcurrentWriter:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name in self.names:
                self._attempt(lambda n=name: self._touch_secret(n))
                self._attempt(lambda n=name: self._touch_status(n))

    def _attempt(self, write: Any) -> None:
        try:
            write()
            self.writes += 1
        except kubernetes.client.ApiException as error:
            if error.status != 409:
                raise
            self.conflicts += 1

    def _touch_secret(self, name: str) -> None:
        core, namespace = self.cluster.core, self.cluster.namespace
        secret = core.read_namespaced_secret(f"{name}-maskinporten", namespace)
        annotations = secret.metadata.annotations or {}
        annotations["example.com/touched"] = str(self.writes)
        secret.metadata.annotations = annotations
        core.replace_namespaced_secret(f"{name}-maskinporten", namespace, secret)

    def _touch_status(self, name: str) -> None:
        custom, namespace = self.cluster.custom, self.cluster.namespace
        body = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        conditions = [
            c for c in body.get("status", {}).get("conditions", []) if c["type"] != "Audited"
        ]
        conditions.append(
            {
                "type": "Audited",
                "status": "True",
                "reason": "Audited",
                "message": f"write {self.writes}",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        )
        body.setdefault("status", {})["conditions"] = conditions
        custom.replace_namespaced_custom_object_status(
            GROUP, VERSION, namespace, PLURAL, name, body
        )


def test_a_concurrent_writer_of_the_secret_and_the_status_costs_no_token(
    bed: FaultBed, standin: StandinThread
) -> None:
    cluster = bed.namespace()
    bed.start_operator()
    names = [f"contended-{i}" for i in range(scaled(3, 10))]
    for name in names:
        provision(cluster, standin, name, scopes=(QUICK_SCOPE,))
    bed.ready_within(cluster, names)
    started = standin.now()
    missing: set[str] = set()
    with ConcurrentWriter(cluster, names) as writer:
        end = time.monotonic() + scaled(QUICK_LIFETIME, 6 * QUICK_LIFETIME)
        while time.monotonic() < end:  # a fixed window of contention
            missing |= {n for n in names if token_of(cluster, n) is None}
            time.sleep(0.5)
    refreshed = [n for n in names if written_at(cluster, n) > started]
    bed.ready_within(cluster, names)
    valid = [
        n for n in names if standin.call(lambda s, n=n: s.access_token_claims(token_of(cluster, n)))
    ]
    log = bed.logs()
    report(
        "concurrent-writer",
        resources=len(names),
        writer_writes=writer.writes,
        writer_conflicts=writer.conflicts,
        operator_conflicts=log.count("HTTP 409"),
        refreshed_meanwhile=len(refreshed),
        secrets_missing=len(missing),
        crashes=len(crashes(log)),
    )
    assert missing == set()
    assert refreshed == names
    assert valid == names
    assert crashes(log) == []


def test_a_deleted_or_tampered_workload_secret_is_restored(
    bed: FaultBed, standin: StandinThread
) -> None:
    cluster = bed.namespace()
    bed.start_operator()
    provision(cluster, standin, "restored", scopes=(QUICK_SCOPE,))
    bed.ready_within(cluster, ["restored"])

    deleted_at = time.time()
    cluster.core.delete_namespaced_secret("restored-maskinporten", cluster.namespace)
    recreated = eventually(
        lambda: token_of(cluster, "restored"), what="the Secret restored", timeout=DEADLINE
    )
    after_delete = time.time() - deleted_at

    tampered_at = time.time()
    cluster.core.patch_namespaced_secret(
        "restored-maskinporten",
        cluster.namespace,
        {"stringData": {"MASKINPORTEN_ACCESS_TOKEN": "tampered", "MASKINPORTEN_CLIENT_ID": "x"}},
    )

    def untampered() -> bool:
        data = cluster.secret_data("restored-maskinporten")
        return (
            data["MASKINPORTEN_ACCESS_TOKEN"] != "tampered"
            and data["MASKINPORTEN_CLIENT_ID"] == f"{cluster.namespace}-restored"
        )

    eventually(untampered, what="the tampered Secret restored", timeout=DEADLINE)
    after_tamper = time.time() - tampered_at
    token = token_of(cluster, "restored")

    report(
        "workload-secret-deleted-or-tampered",
        restored_after_delete_s=after_delete,
        restored_after_tamper_s=after_tamper,
        crashes=len(crashes(bed.logs())),
    )
    assert standin.call(lambda s: s.access_token_claims(recreated)) is not None
    assert standin.call(lambda s: s.access_token_claims(token or "")) is not None
    assert cluster.condition("restored")["status"] == "True"
    assert crashes(bed.logs()) == []


def test_a_namespace_deleted_while_refreshing_leaves_nothing_behind(
    bed: FaultBed, standin: StandinThread
) -> None:
    staying = bed.namespace("staying")
    going = bed.namespace("going")
    bed.start_operator()
    stay = [f"stay-{i}" for i in range(2)]
    go = [f"go-{i}" for i in range(scaled(4, 15))]
    for name in stay:
        provision(staying, standin, name, scopes=(QUICK_SCOPE,))
    for name in go:
        provision(going, standin, name, scopes=(QUICK_SCOPE,))
    bed.ready_within(staying, stay)
    bed.ready_within(going, go)

    for name in go:
        going.force_refresh(name, "going")
    deleted_at = time.time()
    bed.core.delete_namespace(going.namespace)

    def gone() -> bool:
        try:
            bed.core.read_namespace(going.namespace)
        except kubernetes.client.ApiException as error:
            return error.status == 404
        return False

    eventually(gone, what="the namespace gone", timeout=DEADLINE)
    took = time.time() - deleted_at
    operator = bed.operator

    def forgotten() -> bool:
        return all(
            operator.metric("maskinporten_operator_ready", namespace=going.namespace, name=n)
            is None
            for n in go
        )

    eventually(forgotten, what="the deleted resources' series gone", timeout=DEADLINE)
    since = time.time()
    bed.ready_within(staying, stay, since=since)
    warnings = [e for e in staying.events() if e["type"] == "Warning"]
    log = bed.logs()
    report(
        "namespace-deleted-while-refreshing",
        resources_deleted=len(go),
        namespace_gone_s=took,
        staying_warnings=len(warnings),
        crashes=len(crashes(log)),
    )
    assert warnings == []
    assert crashes(log) == []


def test_a_resource_deleted_and_recreated_with_the_same_name_is_served_anew(
    bed: FaultBed, standin: StandinThread
) -> None:
    cluster = bed.namespace()
    bed.start_operator()
    client_id, _ = provision(cluster, standin, "reborn", scopes=(QUICK_SCOPE,))
    bed.ready_within(cluster, ["reborn"])
    rounds = scaled(1, 10)
    times: list[float] = []
    for round_ in range(rounds):
        cluster.delete_client("reborn")
        eventually(
            lambda: (
                not any(
                    c["metadata"]["name"] == "reborn"
                    for c in cluster.custom.list_namespaced_custom_object(
                        GROUP, VERSION, cluster.namespace, PLURAL
                    )["items"]
                )
            ),
            what="the resource gone",
            timeout=DEADLINE,
        )
        created_at = time.time()
        uid = cluster.create_client(
            "reborn",
            {"clientId": client_id, "scopes": {"consumes": [{"name": QUICK_SCOPE}]}},
        )["metadata"]["uid"]
        bed.ready_within(cluster, ["reborn"], since=created_at)
        forced_at = time.time()
        cluster.force_refresh("reborn", f"round-{round_}")
        bed.ready_within(cluster, ["reborn"], since=forced_at + 1)
        times.append(time.time() - created_at)
        owners = cluster.secret("reborn-maskinporten")["metadata"]["ownerReferences"]  # type: ignore[index]
        assert [o["uid"] for o in owners] == [uid]
    report(
        "resource-recreated",
        rounds=rounds,
        ready_and_force_refreshed_s=summary(times),
        crashes=len(crashes(bed.logs())),
    )
    assert crashes(bed.logs()) == []
