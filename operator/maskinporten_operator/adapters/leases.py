"""The election's Lease (``coordination.k8s.io/v1``) as :class:`LeaseRecord` values.

A graceful release carries the annotation :data:`RELEASED_BY_ANNOTATION` (the release mark,
:attr:`LeaseRecord.released_by`); every other write replaces the Lease without it.

Writes carry the ``resourceVersion`` read (a replace) or expect no object (a create): a 409
means another replica, or a person, changed the Lease first, and is raised as
:class:`~maskinporten_operator.ports.KubeError` (status 409) like every other failure.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from maskinporten_operator.adapters.kube import Kube
from maskinporten_operator.api import GROUP
from maskinporten_operator.election import LeaseRecord

RELEASED_BY_ANNOTATION = f"{GROUP}/released-by"
"""On a Lease left by a graceful stop: the identity of the replica that released it."""
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def lease_namespace(setting: str | None) -> str:
    """Where the Lease lives: the setting, else the pod's namespace (``POD_NAMESPACE`` from the
    downward API, or the service account's), else ``default`` (outside a cluster)."""
    if setting:
        return setting
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


def replica_identity() -> str:
    """The pod's name (``POD_NAME`` from the downward API; outside a pod, the host's) and a
    random suffix: a replica never mistakes a Lease its predecessor of the same name held for
    its own, and two processes on one host differ."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}-{secrets.token_hex(3)}"


class Leases:
    """One Lease, ``namespace/name``, over ``kube`` (a :class:`Kube` of its own, so that
    renewals never queue behind the loops' requests); each request times out after
    ``timeout_seconds``."""

    def __init__(self, kube: Kube, namespace: str, name: str, *, timeout_seconds: float) -> None:
        """``kube`` is closed by :meth:`aclose`."""
        self._kube = kube
        self._namespace = namespace
        self._name = name
        self._timeout = timeout_seconds
        self.subject = f"Lease {namespace}/{name}"

    async def aclose(self) -> None:
        await self._kube.aclose()

    async def read(self) -> LeaseRecord | None:
        """The Lease, or None when there is none."""
        lease = await self._kube.read_lease(
            self._namespace, self._name, request_timeout=self._timeout
        )
        return None if lease is None else record_of(lease)

    async def create(self, record: LeaseRecord) -> LeaseRecord:
        body = self._body(record)
        return record_of(
            await self._kube.create_lease(self._namespace, body, request_timeout=self._timeout)
        )

    async def replace(self, record: LeaseRecord) -> LeaseRecord:
        body = self._body(record)
        return record_of(
            await self._kube.replace_lease(self._namespace, body, request_timeout=self._timeout)
        )

    def _body(self, record: LeaseRecord) -> dict[str, Any]:
        now = wall_time()
        metadata: dict[str, Any] = {"name": self._name, "namespace": self._namespace}
        if record.version:
            metadata["resourceVersion"] = record.version
        if record.released_by:
            metadata["annotations"] = {RELEASED_BY_ANNOTATION: record.released_by}
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": record.holder,
                "leaseDurationSeconds": record.duration_seconds,
                "leaseTransitions": record.transitions,
                "acquireTime": record.acquired or now,
                "renewTime": now,
            },
        }


def record_of(lease: dict[str, Any]) -> LeaseRecord:
    spec = lease.get("spec") or {}
    annotations = lease["metadata"].get("annotations") or {}
    return LeaseRecord(
        holder=spec.get("holderIdentity") or "",
        duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
        transitions=int(spec.get("leaseTransitions") or 0),
        version=lease["metadata"]["resourceVersion"],
        acquired=spec.get("acquireTime"),
        renewed=spec.get("renewTime"),
        released_by=annotations.get(RELEASED_BY_ANNOTATION, ""),
    )


def wall_time() -> str:
    """Now as a Lease's MicroTime (``2026-12-05T16:00:00.123456Z``), for people to read."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
