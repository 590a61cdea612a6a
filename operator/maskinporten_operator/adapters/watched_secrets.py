"""The Secrets this operator watches, kept in memory from a list and a watch: its own, and
users' key and password Secrets labelled for a MaskinportenClient
(:data:`~maskinporten_operator.api.CLIENT_LABEL`).

One list-then-watch per watched scope, with a server-side label selector (never every Secret
in the cluster, as a kopf handler on Secrets would be). It serves two purposes:

- a routine refresh reads the workload and key Secrets from memory instead of a GET per Secret
  (:class:`CachingKube`), and creates a Secret the watch has not seen without reading first.
  A Secret's data is kept only until it is read once (the reader holds the parsed key, the
  tokens), then only its digest: what a routine refresh compares; the data is read again (one
  GET) only when a reader must parse it again;
- when a managed Secret is deleted or its data no longer matches what the operator wrote, or a
  user's labelled Secret is added, changed or deleted, ``on_change(namespace, client_name)`` is
  called on the event loop, so its owner acts at once.

The watch runs on background threads (:mod:`.listwatch`); every change to the cache is applied
on the event loop, so the loop never sees a half-updated cache.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, cast

import kubernetes

from maskinporten_operator.adapters.bodies import interned
from maskinporten_operator.adapters.listwatch import (
    ALL_NAMESPACES,
    Listing,
    ListWatch,
    Scope,
    in_namespaces,
    scopes_of,
    version_of,
)
from maskinporten_operator.api import (
    CLIENT_ANNOTATION,
    CLIENT_LABEL,
    GROUP,
    MANAGED_BY_LABEL,
    ROLE_LABEL,
    WATCHED_SELECTOR,
)
from maskinporten_operator.ports import KubernetesApi
from maskinporten_operator.reconcile import secret_bodies

OWN_PREFIX = f"{GROUP}/"
"""The prefix of the operator's own labels and annotations, the ones it reads."""
KEPT_METADATA = ("name", "namespace", "resourceVersion", "ownerReferences")
SECRET_INTERNED_MAX_LENGTH = 128
"""Longer than a token endpoint's URL in base64; shorter than a token or a key."""


def needs_attention(event_type: str, secret: dict[str, Any]) -> bool:
    """Whether a watch event on a watched Secret means its owner must act: a user's Secret
    (one without the operator's role label) whenever it appears, changes or goes; the
    operator's own when it goes, or when anyone else changes it."""
    if event_type == "DELETED":
        return True
    role = (secret.get("metadata", {}).get("labels") or {}).get(ROLE_LABEL)
    if role is None:
        return True
    if role == secret_bodies.Role.WORKLOAD:
        return not secret_bodies.is_intact(secret)
    return event_type == "MODIFIED"


def _superseded(event_type: str, secret: dict[str, Any], known: dict[str, Any]) -> bool:
    """Whether an event tells nothing new: older than what the operator itself wrote since, or
    the version held already (the echo of the operator's write, a list after a broken watch),
    which is kept as it is (perhaps without its data, already read)."""
    version, held = version_of(secret), version_of(known)
    return version < held or (version == held >= 0 and event_type != "DELETED")


def _owner(secret: dict[str, Any]) -> str | None:
    metadata = secret.get("metadata", {})
    owner: str | None = (metadata.get("annotations") or {}).get(CLIENT_ANNOTATION) or (
        metadata.get("labels") or {}
    ).get(CLIENT_LABEL)
    return owner


def _key(secret: dict[str, Any]) -> tuple[str, str]:
    metadata = secret.get("metadata", {})
    return metadata.get("namespace", ""), metadata.get("name", "")


def _as_read(secret: dict[str, Any]) -> dict[str, Any]:
    """The Secret as far as the operator reads it: ``data``, and of its metadata the name,
    namespace, resourceVersion, ownerReferences and the operator's own labels and annotations
    (:data:`OWN_PREFIX`, :data:`MANAGED_BY_LABEL`). Dropped: ``managedFields`` (about 40 % of a
    workload Secret), uid, timestamps, and users' annotations such as kubectl's
    ``last-applied-configuration`` (a whole second copy of an applied key Secret). Kept
    :func:`~maskinporten_operator.adapters.bodies.interned` up to
    :data:`SECRET_INTERNED_MAX_LENGTH`: what every Secret repeats (keys, label values, the
    namespace, the owner's kind) and every workload Secret (the base64 of the issuer and its
    endpoints) is one string for all of them."""
    metadata = secret.get("metadata", {})
    kept: dict[str, Any] = {field: metadata[field] for field in KEPT_METADATA if field in metadata}
    kept["namespace"] = kept.get("namespace", "")
    kept["labels"] = dict(_own(metadata.get("labels")))
    kept["annotations"] = dict(_own(metadata.get("annotations")))
    read = {"metadata": kept, "data": secret.get("data") or {}}
    return cast(dict[str, Any], interned(read, SECRET_INTERNED_MAX_LENGTH))


def _own(entries: dict[str, str] | None) -> list[tuple[str, str]]:
    return [
        (k, v)
        for k, v in (entries or {}).items()
        if k.startswith(OWN_PREFIX) or k == MANAGED_BY_LABEL
    ]


class WatchedSecrets:
    """The watched Secrets by (namespace, name), once a scope's first list has arrived."""

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        on_change: Callable[[str, str], None],
        *,
        namespaces: tuple[str, ...],
    ) -> None:
        core = kubernetes.client.CoreV1Api(api_client)
        listing = Listing(
            "Secret",
            core.list_secret_for_all_namespaces,
            core.list_namespaced_secret,
            WATCHED_SELECTOR,
            when_refused="grant the operator list and watch on Secrets (the chart's RBAC does)",
        )
        scopes = scopes_of(namespaces)
        self._watch = ListWatch(listing, scopes, self.apply_list, self.apply_event)
        self._on_change = on_change
        self._patterns = namespaces
        self._secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self._synced: set[Scope] = set()
        self._listed: dict[Scope, asyncio.Event] = {scope: asyncio.Event() for scope in scopes}

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._watch.start(loop)

    def stop(self) -> None:
        self._watch.stop()

    def knows(self, namespace: str) -> bool:
        """Whether the cache is complete for ``namespace`` (its scope's list has arrived)."""
        return ALL_NAMESPACES in self._synced or namespace in self._synced

    async def wait_for_list(self, namespace: str) -> None:
        """Return once the first list of ``namespace``'s scope has arrived (at start-up), or at
        once when no watched scope covers it."""
        listed = self._listed.get(namespace, self._listed.get(ALL_NAMESPACES))
        if listed is not None:
            await listed.wait()

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The watched Secret as last seen; None when there is none (or the cache is not
        complete for the namespace: ask :meth:`knows` first). Its data is served once: from
        then on, until the Secret changes, it is served with the data's digest instead
        (:func:`~maskinporten_operator.reconcile.secret_bodies.without_data`); its reader keeps
        what it needs of it (the parsed key, the tokens)."""
        key = (namespace, name)
        secret = self._secrets.get(key)
        self._drop_data(key)
        return secret

    def remember(self, secret: dict[str, Any]) -> None:
        """A Secret the operator just wrote, as the API server returned it; kept without its
        data, which its writer holds."""
        self.apply_event("MODIFIED", secret, wake=False)
        self._drop_data(_key(secret))

    def _drop_data(self, key: tuple[str, str]) -> None:
        secret = self._secrets.get(key)
        if secret is not None and secret_bodies.has_data(secret):
            self._secrets[key] = secret_bodies.without_data(secret)

    # --- on the event loop: what the watch threads send --------------------------------------

    def apply_event(self, event_type: str, secret: dict[str, Any], *, wake: bool = True) -> None:
        """A watch event (ADDED, MODIFIED, DELETED); wakes the owner when it must act."""
        key = _key(secret)
        if not in_namespaces(key[0], self._patterns):
            return
        known = self._secrets.get(key)
        if known is not None and _superseded(event_type, secret, known):
            return
        if event_type == "DELETED":  # also sent when a Secret loses the watched label
            self._secrets.pop(key, None)
        else:
            self._secrets[key] = _as_read(secret)
        owner = _owner(secret)
        if wake and owner and needs_attention(event_type, secret):
            self._on_change(key[0], owner)

    def apply_list(self, scope: Scope, secrets: list[dict[str, Any]], version: int) -> None:
        """A full list of a scope (a namespace, or None for all) at resourceVersion
        ``version``: the cache is complete. A Secret missing from it is dropped unless the
        operator wrote it after the list was taken. On a list after a broken watch, what
        changed meanwhile wakes owners as the missed events would have. After a broken watch
        the cache keeps serving what it holds until this list replaces it: every write carries
        a resourceVersion or is a create, so a stale entry costs a 409 and a retry, never an
        overwrite."""
        relist = scope in self._synced
        listed = {_key(secret) for secret in secrets}
        in_scope = [k for k in self._secrets if scope is ALL_NAMESPACES or k[0] == scope]
        for key in in_scope:
            if key not in listed and version_of(self._secrets[key]) <= version:
                self.apply_event("DELETED", self._secrets[key], wake=relist)
        for secret in secrets:
            known = self._secrets.get(_key(secret))
            changed = known is None or version_of(known) != version_of(secret)
            event_type = "ADDED" if known is None else "MODIFIED"
            self.apply_event(event_type, secret, wake=relist and changed)
        self._synced.add(scope)
        self._listed[scope].set()


class CachingKube:
    """:class:`~maskinporten_operator.ports.KubernetesApi` that reads watched Secrets from
    :class:`WatchedSecrets` and everything else (a user's unlabelled Secret, a namespace whose
    list has not arrived) from the API server."""

    def __init__(
        self, kube: KubernetesApi, cache: WatchedSecrets, *, list_wait_seconds: float
    ) -> None:
        """``list_wait_seconds``: how long a read waits for the watch's list (at start-up,
        thousands of resources would otherwise each read their Secrets from the API server)
        before it reads from the API server."""
        self._kube = kube
        self._cache = cache
        self._list_wait_seconds = list_wait_seconds

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """From the cache while it holds the data; else (the data read once already, or not
        a watched Secret) from the API server."""
        if await self._known(namespace):
            cached = self._cache.get(namespace, name)
            if cached is not None and secret_bodies.has_data(cached):
                return cached
        return await self._kube.get_secret(namespace, name)

    async def get_watched_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        if await self._known(namespace):
            return self._cache.get(namespace, name)
        return await self._kube.get_watched_secret(namespace, name)

    async def _known(self, namespace: str) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._list_wait_seconds):
                await self._cache.wait_for_list(namespace)
        return self._cache.knows(namespace)

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        created = await self._kube.create_secret(namespace, body)
        self._cache.remember(created)
        return created

    async def replace_secret(
        self, namespace: str, body: dict[str, Any], resource_version: str
    ) -> dict[str, Any]:
        replaced = await self._kube.replace_secret(namespace, body, resource_version)
        self._cache.remember(replaced)
        return replaced

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        await self._kube.patch_status(namespace, name, status)
