"""Watched Secrets served from the list-and-watch cache: no GET for what the watch knows."""

from __future__ import annotations

import asyncio
from typing import Any

import kubernetes

from maskinporten_operator.adapters.watched_secrets import CachingKube, WatchedSecrets
from maskinporten_operator.api import (
    CLIENT_ANNOTATION,
    CLIENT_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    ROLE_LABEL,
)
from maskinporten_operator.credentials.secret_data import encode_data
from maskinporten_operator.reconcile.secret_bodies import data_digest, has_data, without_data
from maskinporten_testbed.fakekube import FakeKube

NAMESPACE = "team"
LISTED_AT = 1000
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
"""The resourceVersion of a list in these tests: after every Secret version they use."""


def managed(name: str, version: int, role: str = "key", owner: str = "weather") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "resourceVersion": str(version),
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, CLIENT_LABEL: owner, ROLE_LABEL: role},
            "annotations": {CLIENT_ANNOTATION: owner},
        },
        "data": encode_data({"jwk": "{}"}),
    }


def users(name: str, version: int, client: str = "weather") -> dict[str, Any]:
    """A user's own key Secret, labelled for its MaskinportenClient."""
    metadata = {"name": name, "namespace": NAMESPACE, "resourceVersion": str(version)}
    return {"metadata": {**metadata, "labels": {CLIENT_LABEL: client}}, "data": {}}


class Cached:
    def __init__(self, namespaces: tuple[str, ...] = ()) -> None:
        self.woken: list[tuple[str, str]] = []
        self.secrets = WatchedSecrets(
            kubernetes.client.ApiClient(),
            lambda namespace, name: self.woken.append((namespace, name)),
            namespaces=namespaces,
        )
        self.fake = FakeKube()
        self.kube = CachingKube(self.fake, self.secrets, list_wait_seconds=0.0)


async def test_a_listed_secret_is_read_without_a_call() -> None:
    cached = Cached()
    cached.secrets.apply_list(None, [managed("weather-key", 5)], LISTED_AT)

    secret = await cached.kube.get_secret(NAMESPACE, "weather-key")

    assert secret is not None
    assert secret["metadata"]["resourceVersion"] == "5"
    assert cached.fake.calls == 0


async def test_before_the_first_list_secrets_are_read_from_the_api_server() -> None:
    cached = Cached()
    cached.fake.put_secret(NAMESPACE, "weather-key", {"jwk": "{}"})

    assert await cached.kube.get_secret(NAMESPACE, "weather-key") is not None
    assert cached.fake.calls == 1


async def test_a_secret_the_cache_does_not_hold_is_read_from_the_api_server() -> None:
    cached = Cached()
    cached.secrets.apply_list(None, [], LISTED_AT)
    cached.fake.put_secret(NAMESPACE, "users-own-key", {"jwk": "{}"})

    assert await cached.kube.get_secret(NAMESPACE, "users-own-key") is not None
    assert cached.fake.calls == 1


async def test_a_namespace_outside_the_listed_ones_is_read_from_the_api_server() -> None:
    cached = Cached(namespaces=("team", "other"))
    cached.secrets.apply_list("other", [], LISTED_AT)

    assert await cached.kube.get_secret(NAMESPACE, "weather-key") is None
    assert cached.fake.calls == 1


async def test_what_the_operator_writes_is_read_back_from_memory_without_its_data() -> None:
    cached = Cached()
    cached.secrets.apply_list(None, [], LISTED_AT)
    created = await cached.kube.create_secret(NAMESPACE, managed("weather-key", 0))

    secret = await cached.kube.get_watched_secret(NAMESPACE, "weather-key")

    assert secret == without_data(created)
    assert cached.fake.calls == 1


async def test_a_secrets_data_is_served_once_then_its_digest() -> None:
    cached = Cached()
    listed = managed("weather-key", 5)
    cached.secrets.apply_list(None, [listed], LISTED_AT)

    first = await cached.kube.get_watched_secret(NAMESPACE, "weather-key")
    again = await cached.kube.get_watched_secret(NAMESPACE, "weather-key")

    assert first is not None
    assert first["data"] == listed["data"]
    assert again is not None
    assert "data" not in again
    assert data_digest(again) == data_digest(listed)
    assert cached.fake.calls == 0


async def test_a_secret_whose_data_was_served_is_read_with_it_from_the_api_server() -> None:
    cached = Cached()
    cached.secrets.apply_list(None, [managed("weather-key", 5)], LISTED_AT)
    await cached.kube.get_watched_secret(NAMESPACE, "weather-key")
    cached.fake.put_secret(NAMESPACE, "weather-key", {"jwk": "{}"})

    secret = await cached.kube.get_secret(NAMESPACE, "weather-key")

    assert secret is not None
    assert has_data(secret)
    assert cached.fake.calls == 1


async def test_a_changed_secret_is_served_with_its_data_again() -> None:
    cached = Cached()
    cached.secrets.apply_list(None, [managed("weather-key", 5)], LISTED_AT)
    await cached.kube.get_watched_secret(NAMESPACE, "weather-key")

    cached.secrets.apply_event("MODIFIED", managed("weather-key", 6))

    secret = await cached.kube.get_watched_secret(NAMESPACE, "weather-key")
    assert secret is not None
    assert has_data(secret)


def test_the_echo_of_the_operators_own_write_keeps_it_without_its_data() -> None:
    cached = Cached()
    cached.secrets.apply_list(None, [], LISTED_AT)
    cached.secrets.remember(managed("weather-key", 7))

    cached.secrets.apply_event("MODIFIED", managed("weather-key", 7))

    secret = cached.secrets.get(NAMESPACE, "weather-key")
    assert secret is not None
    assert not has_data(secret)


def test_an_event_older_than_the_operators_own_write_is_ignored() -> None:
    cached = Cached()
    cached.secrets.apply_list(None, [], LISTED_AT)
    cached.secrets.remember(managed("weather-key", 7))

    cached.secrets.apply_event("MODIFIED", managed("weather-key", 6))

    secret = cached.secrets.get(NAMESPACE, "weather-key")
    assert secret is not None
    assert secret["metadata"]["resourceVersion"] == "7"


def test_a_deleted_secret_leaves_the_cache_and_wakes_its_owner() -> None:
    cached = Cached()
    cached.secrets.apply_list(None, [managed("weather-key", 5)], LISTED_AT)

    cached.secrets.apply_event("DELETED", managed("weather-key", 6))

    assert cached.secrets.get(NAMESPACE, "weather-key") is None
    assert cached.woken == [(NAMESPACE, "weather")]


def test_the_operators_own_writes_wake_nobody() -> None:
    cached = Cached()
    cached.secrets.apply_list(None, [], LISTED_AT)

    cached.secrets.remember(managed("weather-key", 7))

    assert cached.woken == []


def test_a_secret_deleted_while_the_watch_was_broken_wakes_its_owner_at_the_next_list() -> None:
    cached = Cached()
    cached.secrets.apply_list(None, [managed("weather-token", 5, role="workload")], LISTED_AT)

    cached.secrets.apply_list(None, [], LISTED_AT + 1)

    assert cached.woken == [(NAMESPACE, "weather")]


def test_a_users_secret_changed_while_the_watch_was_broken_wakes_its_client_at_the_next_list() -> (
    None
):
    cached = Cached()
    cached.secrets.apply_list(None, [users("weather-key", 5)], LISTED_AT)

    cached.secrets.apply_list(None, [users("weather-key", 6)], LISTED_AT + 1)

    assert cached.woken == [(NAMESPACE, "weather")]


def test_a_list_of_what_the_cache_already_holds_wakes_nobody() -> None:
    cached = Cached()
    cached.secrets.apply_list(None, [users("weather-key", 5)], LISTED_AT)

    cached.secrets.apply_list(None, [users("weather-key", 5)], LISTED_AT + 1)

    assert cached.woken == []


def test_a_list_older_than_the_operators_own_write_keeps_the_write() -> None:
    cached = Cached()
    cached.secrets.apply_list(None, [], LISTED_AT)
    cached.secrets.remember(managed("weather-key", 9))

    cached.secrets.apply_list(None, [managed("weather-key", 8)], LISTED_AT)

    secret = cached.secrets.get(NAMESPACE, "weather-key")
    assert secret is not None
    assert secret["metadata"]["resourceVersion"] == "9"


def test_a_list_drops_secrets_that_are_gone() -> None:
    cached = Cached()
    cached.secrets.apply_list(None, [managed("weather-key", 5)], LISTED_AT)

    cached.secrets.apply_list(None, [], LISTED_AT)

    assert cached.secrets.get(NAMESPACE, "weather-key") is None


async def test_a_secret_the_watch_has_not_seen_is_absent_without_a_call() -> None:
    cached = Cached()
    cached.secrets.apply_list(None, [], LISTED_AT)

    assert await cached.kube.get_watched_secret(NAMESPACE, "weather-token") is None
    assert cached.fake.calls == 0


async def test_before_the_first_list_a_watched_secret_is_looked_up_on_the_api_server() -> None:
    cached = Cached()
    cached.fake.put_secret(NAMESPACE, "weather-key", {"jwk": "{}"}, labels={CLIENT_LABEL: "w"})
    cached.fake.put_secret(NAMESPACE, "users-own", {"jwk": "{}"})

    assert await cached.kube.get_watched_secret(NAMESPACE, "weather-key") is not None
    assert await cached.kube.get_watched_secret(NAMESPACE, "users-own") is None


def test_a_users_labelled_secret_wakes_its_client_when_it_appears() -> None:
    cached = Cached()
    cached.secrets.apply_list(None, [], LISTED_AT)

    cached.secrets.apply_event("ADDED", users("weather-key", 3))

    assert cached.woken == [(NAMESPACE, "weather")]


def test_a_users_labelled_secret_wakes_its_client_when_it_changes() -> None:
    cached = Cached()
    cached.secrets.apply_list(None, [users("weather-key", 3)], LISTED_AT)

    cached.secrets.apply_event("MODIFIED", users("weather-key", 4))

    assert cached.woken == [(NAMESPACE, "weather")]


async def test_a_read_before_the_first_list_waits_for_it_instead_of_calling_the_api() -> None:
    cached = Cached()
    waiting = CachingKube(cached.fake, cached.secrets, list_wait_seconds=3600.0)
    read = asyncio.create_task(waiting.get_secret(NAMESPACE, "weather-key"))
    await asyncio.sleep(0)

    cached.secrets.apply_list(None, [managed("weather-key", 5)], LISTED_AT)

    assert (await read) is not None
    assert cached.fake.calls == 0


def test_a_list_taken_before_the_operators_own_create_keeps_the_created_secret() -> None:
    cached = Cached()
    cached.secrets.remember(managed("weather-token", 12))

    cached.secrets.apply_list(None, [], 11)

    assert cached.secrets.get(NAMESPACE, "weather-token") is not None


def test_the_cache_keeps_only_what_the_operator_reads() -> None:
    cached = Cached()
    secret = managed("weather-key", 5)
    secret["metadata"] |= {
        "managedFields": [{"manager": "maskinporten-operator"}],
        "uid": "0c1f",
        "creationTimestamp": "2026-01-01T00:00:00Z",
    }
    secret["metadata"]["labels"]["team"] = "weather"
    secret["metadata"]["annotations"][LAST_APPLIED] = '{"stringData": {"jwk": "{}"}}'

    cached.secrets.apply_list(None, [secret], LISTED_AT)

    kept = cached.secrets.get(NAMESPACE, "weather-key")
    assert kept == managed("weather-key", 5)
