"""The client key: read from its Secret, or generated once when there is none."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from maskinporten_operator import secrets
from maskinporten_operator.keys import (
    ClientKey,
    InvalidKeyError,
    generate_client_key,
    load_client_key,
)
from maskinporten_operator.model import ClientSpec, DeletionPolicy, KeySource
from maskinporten_operator.reconciliation import ClientRef, Dependencies, Event, Failure, kube_call


async def ensure_key(
    ref: ClientRef,
    spec: ClientSpec,
    status: Mapping[str, Any],
    deps: Dependencies,
    events: list[Event],
) -> ClientKey:
    name = spec.key_secret_name(ref.name)
    where = f"Secret {ref.namespace}/{name}"
    secret = await kube_call(deps.kube.get_secret(ref.namespace, name))
    if secret is None:
        if spec.key.source is KeySource.EXISTING:
            raise Failure(
                "KeySecretMissing",
                f"key {where} not found: create it with the client's private JWK under 'jwk' "
                "(or a PEM key under 'key.pem' and its kid under 'kid'), or set "
                "spec.key.source to Generated",
            )
        if status.get("keyId"):
            raise Failure(
                "KeySecretMissing",
                f"key {where} that held key {status['keyId']} is gone; no new key is generated "
                "behind your back: restore the Secret, or delete and recreate this "
                "MaskinportenClient to generate a new key (which must then be registered)",
            )
        return await _generate_key(ref, spec, name, deps, events)
    try:
        return load_client_key(
            secrets.decode_data(secret),
            source=where,
            data_key=spec.key.secret_key,
            key_id=spec.key.key_id,
        )
    except InvalidKeyError as error:
        raise Failure("KeyInvalid", str(error)) from None


async def _generate_key(
    ref: ClientRef, spec: ClientSpec, name: str, deps: Dependencies, events: list[Event]
) -> ClientKey:
    key = generate_client_key()
    body = secrets.secret_body(
        name=name,
        namespace=ref.namespace,
        owner=ref.owner,
        role=secrets.Role.KEY,
        data={"jwk": key.private_jwk_json()},
        annotations={secrets.KEY_ID_ANNOTATION: key.kid},
        owned=spec.key.deletion_policy is DeletionPolicy.DELETE,
    )
    await kube_call(deps.kube.create_secret(ref.namespace, body))
    events.append(
        Event(
            "Normal",
            "KeyGenerated",
            f"generated RSA 2048 key {key.kid} in Secret {name}; register its public JWK "
            "(status.publicJwk) on the Maskinporten client",
        )
    )
    return key
