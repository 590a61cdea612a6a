"""The Kubernetes calls of the command-line tools, through the current kubeconfig (or in-cluster
credentials in a pod). Synchronous: a command makes one or two calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import kubernetes
import urllib3

from maskinporten_operator.adapters.kube import load_api_client
from maskinporten_operator.api import (
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    ClientSpec,
    InvalidSpecError,
    parse_spec,
)
from maskinporten_operator.cli.common import EXIT_KUBERNETES, EXIT_USAGE, CommandError
from maskinporten_operator.credentials.keys import ClientKey, InvalidKeyError
from maskinporten_operator.reconcile import workload
from maskinporten_operator.reconcile.keysupply import read_key


@dataclass(frozen=True)
class ClusterClient:
    """A MaskinportenClient's spec and the key in its key Secret."""

    spec: ClientSpec
    key: ClientKey


def read_client(namespace: str, name: str) -> ClusterClient:
    api = _api()
    what = f"{KIND} {namespace}/{name}"
    resource: dict[str, Any] = _call(
        what,
        lambda: kubernetes.client.CustomObjectsApi(api).get_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, _preload_content=False
        ),
    )
    try:
        spec = parse_spec(resource.get("spec"))
    except InvalidSpecError as error:
        raise CommandError(f"{what} has an invalid spec: {error}") from None
    secret_name = spec.key_secret_name(name)
    where = f"Secret {namespace}/{secret_name}"
    secret: dict[str, Any] = _call(
        where,
        lambda: kubernetes.client.CoreV1Api(api).read_namespaced_secret(
            secret_name, namespace, _preload_content=False
        ),
    )
    password = None
    if spec.key.password_secret_ref is not None:
        reference = spec.key.password_secret_ref
        password_secret: dict[str, Any] = _call(
            f"password Secret {namespace}/{reference.name}",
            lambda: kubernetes.client.CoreV1Api(api).read_namespaced_secret(
                reference.name, namespace, _preload_content=False
            ),
        )
        password = workload.raw_data(password_secret).get(reference.key, b"").rstrip(b"\r\n")
    try:
        key = read_key(
            workload.raw_data(secret),
            spec.key,
            source=where,
            password=password,
            now=datetime.now(UTC),
        )
    except InvalidKeyError as error:
        raise CommandError(str(error)) from None
    return ClusterClient(spec, key)


def create_key_secret(namespace: str, name: str, key: ClientKey) -> None:
    """A Secret holding the private JWK under ``jwk``; an existing one is never replaced."""
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {workload.KEY_ID_ANNOTATION: key.kid},
        },
        "data": workload.encode_data({"jwk": key.private_jwk_json()}),
    }
    core = kubernetes.client.CoreV1Api(_api())
    _call(
        f"Secret {namespace}/{name}",
        lambda: core.create_namespaced_secret(namespace, cast(Any, body), _preload_content=False),
    )


def _api() -> kubernetes.client.ApiClient:
    try:
        return load_api_client()
    except kubernetes.config.ConfigException as error:
        raise CommandError(
            f"no Kubernetes configuration: {error}",
            hint="set KUBECONFIG, or select a context with kubectl config use-context",
        ) from None


def _call(what: str, call: Callable[[], Any]) -> Any:
    try:
        response = call()
    except kubernetes.client.ApiException as error:
        raise _api_error(what, error) from None
    except urllib3.exceptions.HTTPError as error:
        raise CommandError(
            f"cannot reach the Kubernetes API for {what}: {type(error).__name__}",
            exit_code=EXIT_KUBERNETES,
            hint="check the current kubeconfig context (kubectl cluster-info)",
        ) from None
    return json.loads(response.data) if response.data else None


def _api_error(what: str, error: kubernetes.client.ApiException) -> CommandError:
    try:
        message = json.loads(error.body or "{}").get("message") or error.reason
    except ValueError:
        message = error.reason
    if error.status == 404:
        return CommandError(f"{what} not found", exit_code=EXIT_USAGE)
    if error.status == 409:
        return CommandError(
            f"{what} already exists",
            exit_code=EXIT_USAGE,
            hint="an existing key is never overwritten: choose another name, or delete the "
            "Secret first if you are sure nothing uses its key",
        )
    return CommandError(
        f"Kubernetes API refused access to {what}: HTTP {error.status} {message}",
        exit_code=EXIT_KUBERNETES,
    )
