"""The in-memory Kubernetes API behaves as the API server does where the operator relies on it."""

from __future__ import annotations

from typing import Any

import pytest

from maskinporten_operator.ports import KubeError
from maskinporten_testbed.fakekube import FakeKube, Verb, Write

NAMESPACE = "team"


def body(name: str, **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": data}


async def test_a_missing_secret_reads_as_none() -> None:
    assert await FakeKube().get_secret(NAMESPACE, "absent") is None


async def test_a_created_secret_is_read_back_with_a_resource_version() -> None:
    kube = FakeKube()

    await kube.create_secret(NAMESPACE, body("weather", a="eA=="))
    secret = await kube.get_secret(NAMESPACE, "weather")

    assert secret is not None
    assert secret["data"] == {"a": "eA=="}
    assert secret["metadata"]["resourceVersion"]


async def test_creating_a_secret_that_exists_is_a_409() -> None:
    kube = FakeKube()
    kube.put_secret(NAMESPACE, "weather", {"a": "x"})

    with pytest.raises(KubeError) as caught:
        await kube.create_secret(NAMESPACE, body("weather"))

    assert caught.value.status == 409


async def test_replacing_at_the_current_version_succeeds_and_moves_the_version() -> None:
    kube = FakeKube()
    kube.put_secret(NAMESPACE, "weather", {"a": "x"})
    before = kube.secret(NAMESPACE, "weather")
    assert before is not None

    await kube.replace_secret(NAMESPACE, body("weather"), before["metadata"]["resourceVersion"])

    after = kube.secret(NAMESPACE, "weather")
    assert after is not None
    assert after["metadata"]["resourceVersion"] != before["metadata"]["resourceVersion"]


async def test_replacing_at_a_stale_version_is_a_409() -> None:
    kube = FakeKube()
    kube.put_secret(NAMESPACE, "weather", {"a": "x"})
    stale = kube.secret(NAMESPACE, "weather")
    assert stale is not None
    kube.put_secret(NAMESPACE, "weather", {"a": "edited by someone else"})

    with pytest.raises(KubeError) as caught:
        await kube.replace_secret(NAMESPACE, body("weather"), stale["metadata"]["resourceVersion"])

    assert caught.value.status == 409
    assert kube.secret_data(NAMESPACE, "weather") == {"a": "edited by someone else"}


async def test_replacing_a_missing_secret_is_a_404() -> None:
    with pytest.raises(KubeError) as caught:
        await FakeKube().replace_secret(NAMESPACE, body("absent"), "1")

    assert caught.value.status == 404


async def test_writes_are_recorded_in_order_and_arranged_secrets_are_not() -> None:
    kube = FakeKube()
    kube.put_secret(NAMESPACE, "arranged", {})

    await kube.create_secret(NAMESPACE, body("weather"))
    await kube.patch_status(NAMESPACE, "weather", {"clientId": "c"})

    assert [(w.verb, w.name) for w in kube.writes] == [
        (Verb.CREATE, "weather"),
        (Verb.PATCH_STATUS, "weather"),
    ]
    assert kube.writes[1] == Write(Verb.PATCH_STATUS, NAMESPACE, "weather", {"clientId": "c"})


async def test_status_patches_merge_objects_replace_lists_and_remove_nulls() -> None:
    kube = FakeKube()
    await kube.patch_status(NAMESPACE, "c", {"a": 1, "b": 2, "list": [1, 2], "obj": {"x": 1}})

    await kube.patch_status(NAMESPACE, "c", {"a": None, "list": [3], "obj": {"y": 2}})

    assert kube.status(NAMESPACE, "c") == {"b": 2, "list": [3], "obj": {"x": 1, "y": 2}}


async def test_the_next_calls_fail_with_the_injected_status_then_calls_succeed_again() -> None:
    kube = FakeKube()
    kube.fail_next(2, 403, "forbidden")

    for _ in range(2):
        with pytest.raises(KubeError) as caught:
            await kube.get_secret(NAMESPACE, "weather")
        assert caught.value.status == 403
    assert await kube.get_secret(NAMESPACE, "weather") is None
    assert kube.calls == 3


async def test_status_zero_stands_for_an_unreachable_api_server() -> None:
    kube = FakeKube()
    kube.fail_next(1, 0)

    with pytest.raises(KubeError) as caught:
        await kube.create_secret(NAMESPACE, body("weather"))

    assert caught.value.status == 0
    assert "cannot reach the Kubernetes API" in str(caught.value)
    assert kube.secret(NAMESPACE, "weather") is None


async def test_a_read_secret_is_a_copy_the_caller_cannot_change_the_store_through() -> None:
    kube = FakeKube()
    kube.put_secret(NAMESPACE, "weather", {"a": "x"})
    secret = await kube.get_secret(NAMESPACE, "weather")
    assert secret is not None

    secret["data"].clear()

    assert kube.secret_data(NAMESPACE, "weather") == {"a": "x"}
