"""The Kubernetes calls of the command-line tools, through the current kubeconfig (or in-cluster
credentials in a pod), made with the operator's own Kubernetes adapter."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import kubernetes

from maskinporten_operator.adapters.kube import UNREACHABLE, Kube
from maskinporten_operator.adapters.kube_connection import load_configuration
from maskinporten_operator.api import (
    KEY_ID_ANNOTATION,
    KIND,
    ClientSpec,
    InvalidSpecError,
    parse_spec,
)
from maskinporten_operator.cli.common import EXIT_KUBERNETES, EXIT_USAGE, CommandError
from maskinporten_operator.credentials.keys import ClientKey, InvalidKeyError
from maskinporten_operator.credentials.secret_data import (
    encode_data,
    password_in,
    raw_data,
    read_key,
)
from maskinporten_operator.ports import KubeError

T = TypeVar("T")


@dataclass(frozen=True)
class ClusterClient:
    """A MaskinportenClient's spec, the key in its key Secret, and its client id (the spec's,
    or for a managed client the one in its status; None before it was registered)."""

    spec: ClientSpec
    key: ClientKey
    client_id: str | None


def read_client(namespace: str, name: str) -> ClusterClient:
    return _with_kube(lambda kube: _read_client(kube, namespace, name))


def create_key_secret(namespace: str, name: str, key: ClientKey) -> None:
    """A Secret holding the private JWK under ``jwk``; an existing one is never replaced."""
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {KEY_ID_ANNOTATION: key.kid},
        },
        "data": encode_data({"jwk": key.private_jwk_json()}),
    }
    _with_kube(lambda kube: kube.create_secret(namespace, body))


async def _read_client(kube: Kube, namespace: str, name: str) -> ClusterClient:
    what = f"{KIND} {namespace}/{name}"
    resource = _found(await kube.get_client(namespace, name), what)
    try:
        spec = parse_spec(resource.get("spec"))
    except InvalidSpecError as error:
        raise CommandError(f"{what} has an invalid spec: {error}") from None
    where = f"Secret {namespace}/{spec.key_secret_name(name)}"
    secret = _found(await kube.get_secret(namespace, spec.key_secret_name(name)), where)
    try:
        password = None
        if spec.key.password_secret_ref is not None:
            reference = spec.key.password_secret_ref
            password_where = f"password Secret {namespace}/{reference.name}"
            password_secret = _found(
                await kube.get_secret(namespace, reference.name), password_where
            )
            password = password_in(raw_data(password_secret), reference.key, where=password_where)
        key = read_key(
            raw_data(secret), spec.key, source=where, password=password, now=datetime.now(UTC)
        )
    except InvalidKeyError as error:
        raise CommandError(str(error)) from None
    status = resource.get("status") or {}
    return ClusterClient(spec, key, spec.client_id or status.get("clientId"))


def _found(found: dict[str, Any] | None, what: str) -> dict[str, Any]:
    if found is None:
        raise CommandError(f"{what} not found", exit_code=EXIT_USAGE)
    return found


def _with_kube(work: Callable[[Kube], Awaitable[T]]) -> T:
    try:
        configuration = load_configuration()
    except kubernetes.config.ConfigException as error:
        raise CommandError(
            f"no Kubernetes configuration: {error}",
            hint="set KUBECONFIG, or select a context with kubectl config use-context",
        ) from None

    async def run() -> T:
        kube = Kube(configuration, concurrency=1)
        try:
            return await work(kube)
        finally:
            await kube.aclose()

    try:
        return asyncio.run(run())
    except KubeError as error:
        raise _command_error(error) from None


def _command_error(error: KubeError) -> CommandError:
    if error.status == UNREACHABLE:
        return CommandError(
            f"cannot reach the Kubernetes API for {error.subject}",
            exit_code=EXIT_KUBERNETES,
            hint="check the current kubeconfig context (kubectl cluster-info)",
        )
    if error.status == 409:
        return CommandError(
            f"{error.subject} already exists",
            exit_code=EXIT_USAGE,
            hint="an existing key is never overwritten: choose another name, or delete the "
            "Secret first if you are sure nothing uses its key",
        )
    return CommandError(
        f"Kubernetes API refused access to {error.subject}: {error.detail}",
        exit_code=EXIT_KUBERNETES,
    )
