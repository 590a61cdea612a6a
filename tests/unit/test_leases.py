"""The election's Lease as the API server stores it: the release mark is an annotation only a
graceful release writes."""

from __future__ import annotations

from typing import Any, cast

from maskinporten_operator.adapters.kube import Kube
from maskinporten_operator.adapters.leases import RELEASED_BY_ANNOTATION, Leases, record_of
from maskinporten_operator.election import LeaseRecord, released

HELD = LeaseRecord("operator-a-1f2e3d", 15, transitions=2, version="7")


class LeaseStore:
    """The Lease writes of :class:`Kube`, answering with what was written."""

    def __init__(self) -> None:
        self.written: list[dict[str, Any]] = []

    async def replace_lease(
        self, namespace: str, body: dict[str, Any], *, request_timeout: float
    ) -> dict[str, Any]:
        self.written.append(body)
        return {**body, "metadata": {**body["metadata"], "resourceVersion": "8"}}


async def written_by(record: LeaseRecord) -> tuple[dict[str, Any], LeaseRecord]:
    store = LeaseStore()
    answer = await Leases(cast(Kube, store), "ops", "lease", timeout_seconds=5).replace(record)
    return store.written[0], answer


async def test_a_graceful_release_writes_the_release_mark() -> None:
    body, answer = await written_by(released(HELD))

    assert body["metadata"]["annotations"] == {RELEASED_BY_ANNOTATION: HELD.holder}
    assert answer.released_by == HELD.holder


async def test_a_renewal_writes_no_release_mark() -> None:
    body, answer = await written_by(HELD)

    assert "annotations" not in body["metadata"]
    assert answer.released_by == ""


def test_a_lease_emptied_by_hand_reads_as_not_released() -> None:
    lease = {
        "metadata": {"resourceVersion": "9", "annotations": {"note": "emptied by hand"}},
        "spec": {"holderIdentity": "", "leaseDurationSeconds": 15},
    }

    assert record_of(lease).released_by == ""
