"""A standby's part in a managed client's deletion: it waits until it leads or the leader is
done, reading the resource and writing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from maskinporten_operator.ports import KubeError
from maskinporten_operator.runtime.standby import kept_by_finalizer, wait_to_delete

UID = "3f0c5a1e"
FINALIZER = "maskinporten-operator.dev/finalizer"


def answers(values: list[bool]) -> Iterator[bool]:
    yield from values
    raise AssertionError("asked more often than the case expects")


@pytest.mark.parametrize(
    ("case", "leading", "kept", "leads", "reads"),
    [
        ("the leader deletes at once, without reading", [True], [], True, 0),
        ("a standby that comes to lead deletes", [False, False, True], [True, True], True, 2),
        (
            "a standby stops waiting when the leader is done",
            [False, False],
            [True, False],
            False,
            2,
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
async def test_a_replica_waits_to_delete(
    case: str, leading: list[bool], kept: list[bool], leads: bool, reads: int
) -> None:
    leadership, finalizer = answers(leading), answers(kept)
    asked: list[bool] = []

    async def finalizer_kept() -> bool:
        asked.append(next(finalizer))
        return asked[-1]

    assert await wait_to_delete(lambda: next(leadership), finalizer_kept, period=0) is leads
    assert len(asked) == reads


def client(uid: str = UID, finalizers: list[str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"uid": uid, "finalizers": [FINALIZER] if finalizers is None else finalizers}
    }


@pytest.mark.parametrize(
    ("case", "found", "kept"),
    [
        ("still deleting, the finalizer on", client(), True),
        ("the finalizer beside another's", client(finalizers=("other/f", FINALIZER)), True),
        ("the leader removed the finalizer", client(finalizers=("other/f",)), False),
        ("no finalizer left", {"metadata": {"uid": UID}}, False),
        ("gone", None, False),
        ("gone, and one of the same name created", client(uid="9d8e7f6a"), False),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
async def test_the_deletion_waits_while_its_resource_keeps_the_finalizer(
    case: str, found: dict[str, Any] | None, kept: bool
) -> None:
    async def read() -> dict[str, Any] | None:
        return found

    assert await kept_by_finalizer(read, uid=UID, finalizer=FINALIZER) is kept


async def test_a_failed_read_keeps_the_standby_waiting() -> None:
    async def read() -> dict[str, Any] | None:
        raise KubeError(
            action="reading", subject="maskinportenclients/weather", status=0, detail="refused"
        )

    assert await kept_by_finalizer(read, uid=UID, finalizer=FINALIZER)
