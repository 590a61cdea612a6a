"""Small verbs for operator tests: provision keys and clients, read state, wait for it."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import kubernetes

from maskinporten_operator.credentials.keys import ClientKey, generate_client_key
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import Client, RegisteredKey, StandinThread

GROUP, VERSION, PLURAL = "maskinporten-operator.dev", "v1alpha1", "maskinportenclients"
SCOPE = "test:read"
"""Tokens of the stand-in's default lifetime, Maskinporten's: 120 s, refreshed every minute."""
LONG_SCOPE = "test:long"
"""Tokens of ``LONG_LIFETIME`` seconds, for a test whose verdict needs the same token throughout
(no refresh may replace it while the test looks at it)."""
LONG_LIFETIME = 3600
SHORT_SCOPE = "test:short"
"""Tokens of ``SHORT_LIFETIME`` seconds, for a test that watches several refreshes happen."""
SHORT_LIFETIME = 12
ORG = "991825827"


@dataclass
class Cluster:
    core: kubernetes.client.CoreV1Api
    custom: kubernetes.client.CustomObjectsApi
    namespace: str

    def create_client(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "MaskinportenClient",
            "metadata": {"name": name},
            "spec": spec,
        }
        created: dict[str, Any] = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, body
        )
        return created

    def get_client(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name
        )
        return found

    def client_exists(self, name: str) -> bool:
        try:
            self.get_client(name)
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                return False
            raise
        return True

    def patch_client(self, name: str, patch: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, patch
        )

    def force_refresh(self, name: str, request: str = "1") -> None:
        annotation = {"maskinporten-operator.dev/force-refresh": request}
        self.patch_client(name, {"metadata": {"annotations": annotation}})

    def delete_client(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)

    def condition(self, name: str, condition_type: str = "Ready") -> dict[str, Any]:
        conditions = self.get_client(name).get("status", {}).get("conditions", [])
        return next((c for c in conditions if c["type"] == condition_type), {})

    def wait_condition(
        self, name: str, *, status: str, reason: str | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        def matches() -> dict[str, Any] | None:
            ready = self.condition(name)
            if ready.get("status") == status and reason in (None, ready.get("reason")):
                return ready
            return None

        return eventually(matches, what=f"{name} Ready={status} reason={reason}", timeout=timeout)

    def secret(self, name: str) -> dict[str, Any] | None:
        try:
            secret = self.core.read_namespaced_secret(name, self.namespace)
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                return None
            raise
        sanitized: dict[str, Any] = self.core.api_client.sanitize_for_serialization(secret)
        return sanitized

    def secret_data(self, name: str) -> dict[str, str]:
        secret = self.secret(name)
        assert secret is not None, f"Secret {name} not found"
        return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}

    def put_secret(self, name: str, data: dict[str, str]) -> None:
        self.core.create_namespaced_secret(
            self.namespace, {"metadata": {"name": name}, "stringData": data}
        )

    def put_binary_secret(self, name: str, data: dict[str, bytes]) -> None:
        encoded = {key: base64.b64encode(value).decode() for key, value in data.items()}
        self.core.create_namespaced_secret(
            self.namespace, {"metadata": {"name": name}, "data": encoded}
        )

    def events(self) -> list[dict[str, Any]]:
        events = self.core.list_namespaced_event(self.namespace).items
        return [self.core.api_client.sanitize_for_serialization(e) for e in events]


def register(
    standin: StandinThread,
    client_id: str,
    key: ClientKey,
    scopes: tuple[str, ...] = (SCOPE,),
    resources: tuple[str, ...] = (),
) -> None:
    standin.register_client(
        Client(
            client_id=client_id,
            org=ORG,
            scopes=frozenset(scopes),
            keys=(RegisteredKey(key.public_jwk()),),
            resources=frozenset(resources),
        )
    )


def provision(
    cluster: Cluster,
    standin: StandinThread,
    name: str,
    *,
    scopes: tuple[str, ...] = (SCOPE,),
    spec: dict[str, Any] | None = None,
    resources: tuple[str, ...] = (),
) -> tuple[str, ClientKey]:
    """A client whose key is in its (default-named) key Secret and registered at the stand-in."""
    client_id = f"{cluster.namespace}-{name}"
    key = generate_client_key()
    cluster.put_secret(f"{name}-maskinporten-key", {"jwk": key.private_jwk_json()})
    register(standin, client_id, key, scopes, resources)
    cluster.create_client(
        name,
        {
            "clientId": client_id,
            "scopes": {"consumes": [{"name": scope} for scope in scopes]},
            **(spec or {}),
        },
    )
    return client_id, key


def wait_until_established(api_client: kubernetes.client.ApiClient, crd_name: str) -> None:
    """Wait until the API server serves the custom resources of the CRD ``crd_name``."""
    extensions = kubernetes.client.ApiextensionsV1Api(api_client)

    def established() -> bool:
        status = extensions.read_custom_resource_definition(crd_name).status
        conditions = (status.conditions if status else None) or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    eventually(established, what=f"CRD {crd_name} established")
