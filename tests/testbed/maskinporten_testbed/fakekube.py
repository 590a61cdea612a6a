"""An in-memory Kubernetes API: :class:`~maskinporten_operator.ports.KubernetesApi` for fast
tests of the reconcile core, without a control plane.

It behaves as the API server does where the operator depends on it: a Secret gets a new
``resourceVersion`` on every write, replacing at a stale version is HTTP 409, replacing a Secret
that is not there is 404, creating one that is there is 409, and a status patch is a JSON merge
patch (lists replaced whole). Every write is recorded in order. Faults are injected with
:meth:`FakeKube.fail_next`; status 0 stands for an API server that cannot be reached, as in the
real adapter.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from maskinporten_operator.api import is_watched
from maskinporten_operator.credentials.secret_data import encode_data
from maskinporten_operator.ports import KubeError, KubernetesApi
from maskinporten_operator.reconcile.secret_bodies import decode_data, without_data

UNREACHABLE = 0
"""The status of a fault that stands for an API server that cannot be reached."""


class Verb(StrEnum):
    CREATE = "create"
    REPLACE = "replace"
    PATCH_STATUS = "patch_status"


@dataclass(frozen=True)
class Write:
    """One successful write: what was sent (a copy), to which object."""

    verb: Verb
    namespace: str
    name: str
    body: dict[str, Any]


@dataclass(frozen=True)
class _Fault:
    status: int
    detail: str


class FakeKube:
    """Secrets and MaskinportenClient statuses in memory; see the module docstring."""

    def __init__(self) -> None:
        self._secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self._statuses: dict[tuple[str, str], dict[str, Any]] = {}
        self._versions = itertools.count(1)
        self._faults: list[_Fault] = []
        self._served: set[tuple[str, str, str | None]] = set()
        """Secret versions (namespace, name, resourceVersion) whose data was served or written
        through the port."""
        self.writes: list[Write] = []
        self.calls = 0
        """Calls made through the port, failed ones included."""
        self.reads = 0
        """Secrets :meth:`get_secret` would read from the API server: like the operator's
        Secret watch, it serves labelled Secrets from memory."""

    # --- arranging and inspecting (not calls through the port, never fail) ---------------------

    def put_secret(self, namespace: str, name: str, data: Mapping[str, str], **meta: Any) -> None:
        """Store a Secret as someone else wrote it (not recorded as a write); ``meta`` goes into
        its metadata (``labels``, ``annotations``, ``ownerReferences``). Writing it again gives
        it a new ``resourceVersion``, as an edit by someone else would."""
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace, **copy.deepcopy(meta)},
            "data": encode_data(data),
        }
        self._store(namespace, body)

    def delete_secret(self, namespace: str, name: str) -> None:
        """Delete a Secret as someone else would (not recorded as a write)."""
        del self._secrets[(namespace, name)]

    def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The stored Secret (a copy), or None."""
        return copy.deepcopy(self._secrets.get((namespace, name)))

    def secret_data(self, namespace: str, name: str) -> dict[str, str]:
        """The stored Secret's data, decoded; empty when there is no such Secret."""
        secret = self._secrets.get((namespace, name))
        return decode_data(secret) if secret is not None else {}

    def status(self, namespace: str, name: str) -> dict[str, Any]:
        """The MaskinportenClient status as the patches so far made it (a copy)."""
        return copy.deepcopy(self._statuses.get((namespace, name), {}))

    def fail_next(self, count: int, status: int, detail: str = "injected fault") -> None:
        """Fail the next ``count`` calls through the port with ``status`` (0: unreachable)."""
        self._faults += [_Fault(status, detail)] * count

    def watch_afresh(self) -> None:
        """The operator's Secret watch starts afresh (a restart): each Secret's data is served
        once again."""
        self._served.clear()

    # --- ports.KubernetesApi ------------------------------------------------------------------

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        self._call("reading", namespace, name)
        secret = self.secret(namespace, name)
        served = self._data_served(namespace, name)
        self.reads += secret is None or not is_watched(secret) or served
        return secret

    async def get_watched_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """Like the operator's Secret watch: no API call, labelled Secrets only, each version's
        data served once (then its digest instead), none of what the operator wrote."""
        secret = self.secret(namespace, name)
        if secret is None or not is_watched(secret):
            return None
        return without_data(secret) if self._data_served(namespace, name) else secret

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["name"]
        self._call("creating", namespace, name)
        if (namespace, name) in self._secrets:
            raise _error("creating", namespace, name, 409, f'secrets "{name}" already exists')
        self.writes.append(Write(Verb.CREATE, namespace, name, copy.deepcopy(body)))
        return self._written(namespace, body)

    async def replace_secret(
        self, namespace: str, body: dict[str, Any], resource_version: str
    ) -> dict[str, Any]:
        name = body["metadata"]["name"]
        self._call("updating", namespace, name)
        stored = self._secrets.get((namespace, name))
        if stored is None:
            raise _error("updating", namespace, name, 404, f'secrets "{name}" not found')
        if stored["metadata"]["resourceVersion"] != resource_version:
            raise _error(
                "updating",
                namespace,
                name,
                409,
                f'Operation cannot be fulfilled on secrets "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
            )
        self.writes.append(Write(Verb.REPLACE, namespace, name, copy.deepcopy(body)))
        return self._written(namespace, body)

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self._call("updating status of", namespace, name, kind="maskinportenclients")
        merge_patch(self._statuses.setdefault((namespace, name), {}), status)
        self.writes.append(Write(Verb.PATCH_STATUS, namespace, name, copy.deepcopy(status)))

    # --- internals ----------------------------------------------------------------------------

    def _call(self, action: str, namespace: str, name: str, kind: str = "Secret") -> None:
        self.calls += 1
        if self._faults:
            fault = self._faults.pop(0)
            raise _error(action, namespace, name, fault.status, fault.detail, kind=kind)

    def _data_served(self, namespace: str, name: str) -> bool:
        """Whether the Secret's data was served (or written by the operator) before; marks it
        so."""
        version = (self._secrets.get((namespace, name)) or {}).get("metadata", {})
        served = (namespace, name, version.get("resourceVersion")) in self._served
        self._served.add((namespace, name, version.get("resourceVersion")))
        return served

    def _written(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        stored = self._store(namespace, body)
        self._data_served(namespace, stored["metadata"]["name"])
        return stored

    def _store(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        stored = copy.deepcopy(dict(body))
        stored["metadata"] = {
            **stored["metadata"],
            "namespace": namespace,
            "resourceVersion": str(next(self._versions)),
        }
        self._secrets[(namespace, stored["metadata"]["name"])] = stored
        return copy.deepcopy(stored)


if TYPE_CHECKING:
    _implements_the_port: KubernetesApi = FakeKube()
    """mypy checks here that the fake matches the port."""


def _error(
    action: str, namespace: str, name: str, status: int, detail: str, *, kind: str = "Secret"
) -> KubeError:
    """Worded as the real adapter words its errors."""
    described = (
        "cannot reach the Kubernetes API (fake)"
        if status == UNREACHABLE
        else f"HTTP {status}: {detail}"
    )
    return KubeError(
        action=action, subject=f"{kind} {namespace}/{name}", status=status, detail=described
    )


def merge_patch(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """RFC 7386: null removes a member, objects merge, everything else (lists too) replaces."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping):
            if not isinstance(target.get(key), dict):
                target[key] = {}
            merge_patch(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
