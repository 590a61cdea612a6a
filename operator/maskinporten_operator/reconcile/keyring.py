"""A managed client's key ring: every key the operator generated for it, kept in its key Secret.

The key Secret of a managed client holds

- ``jwk``: the key grants are signed with (what the reconciler, the ``token`` command and
  ``includeClientJwk`` read, as for every generated key);
- ``jwks``: ``{"keys": [...]}``, every key the operator generated for the client and still
  needs, private; written *before* a new key is registered, so that a private key is never
  lost (a Secret with ``jwk`` only is a ring of that one key);
- the annotation :data:`KEYS_ANNOTATION`: per ``kid``, its ``state`` and times (epoch seconds):
  ``Pending`` (registered, not yet accepted by Maskinporten), ``Active`` (signing, with
  ``activatedAt``), ``Retiring`` (replaced; removed after ``retireAfter``).

Rotation without a gap: a new key is generated (``Pending``) beside the ``Active`` one and
registered; grants are signed with the ``Active`` key until one signed with the ``Pending`` key
is accepted; then the new key is ``Active`` and the old one ``Retiring`` until every token
obtained with it has expired (and, when workloads get the private JWK, the mounted Secret has
carried the new key for the mount delay); only then is it removed from the registration and
from the Secret.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from maskinporten_operator.api import (
    CLIENT_ANNOTATION,
    GROUP,
    KEY_ID_ANNOTATION,
    ROLE_LABEL,
    ClientSpec,
    DeletionPolicy,
)
from maskinporten_operator.credentials.jwk import load_jwk
from maskinporten_operator.credentials.keys import ClientKey, InvalidKeyError, generate_client_key
from maskinporten_operator.credentials.secret_data import raw_data
from maskinporten_operator.reasons import Reason
from maskinporten_operator.reconcile import workload
from maskinporten_operator.reconcile.context import (
    ACTIVE,
    PENDING,
    RETIRING,
    Failure,
    KeyRing,
    Reconciliation,
    RingKey,
    kube_call,
)

KEYS_ANNOTATION = f"{GROUP}/keys"
"""On a managed client's key Secret: each key's state and times (JSON, no key material)."""
JWKS_DATA_KEY = "jwks"


def initial_annotation(key: ClientKey, now: float) -> dict[str, str]:
    """The annotation of a managed client's first key, generated just now."""
    return {KEYS_ANNOTATION: _states([RingKey(key, ACTIVE, activated_at=now)])}


def _states(keys: Sequence[RingKey]) -> str:
    return json.dumps({k.kid: k.described() for k in keys}, sort_keys=True)


async def read_ring(run: Reconciliation, spec: ClientSpec, signing: ClientKey) -> KeyRing:
    """The ring in the key Secret (``signing`` is its ``jwk``, already read); parsed once per
    version of the Secret."""
    name = spec.key_secret_name(run.ref.name)
    secret = await kube_call(run.deps.kube.get_secret(run.ref.namespace, name))
    if secret is None:
        raise Failure(Reason.KEY_SECRET_MISSING, f"key Secret {run.ref.namespace}/{name} is gone")
    _check_ours(secret, run.ref.name, f"Secret {run.ref.namespace}/{name}")
    version = str(secret.get("metadata", {}).get("resourceVersion", ""))
    known = run.memory.ring
    if known is not None and known.version == version and version:
        return known
    annotations = secret.get("metadata", {}).get("annotations") or {}
    states = _parse_states(annotations.get(KEYS_ANNOTATION))
    data = raw_data(secret)
    where = f"Secret {run.ref.namespace}/{name}"
    if JWKS_DATA_KEY not in data:
        state = states.get(signing.kid, {})
        keys: tuple[RingKey, ...] = (
            RingKey(signing, ACTIVE, activated_at=_number(state.get("activatedAt"))),
        )
    else:
        keys = tuple(await asyncio.to_thread(_ring_keys, data[JWKS_DATA_KEY], states, where))
        if not any(k.kid == signing.kid and k.state == ACTIVE for k in keys):
            raise Failure(
                Reason.KEY_INVALID,
                f"{where}: its 'jwk' (key {signing.kid}) is not the Active key of its 'jwks'; "
                "restore the Secret as the operator wrote it",
            )
    ring = KeyRing(keys, version)
    run.memory.ring = ring
    return ring


def _check_ours(secret: Mapping[str, Any], resource: str, where: str) -> None:
    """Raise :class:`Failure` unless ``secret`` is the key Secret the operator created for the
    resource named ``resource``: the ring is written back whole, so anyone else's Secret would
    lose its data."""
    metadata = secret.get("metadata", {})
    role = (metadata.get("labels") or {}).get(ROLE_LABEL)
    owner = (metadata.get("annotations") or {}).get(CLIENT_ANNOTATION)
    if role == workload.Role.KEY and owner == resource:
        return
    whose = (
        f"the key Secret of MaskinportenClient {owner}"
        if role == workload.Role.KEY and owner
        else "not a key Secret the operator created"
    )
    raise Failure(
        Reason.SECRET_CONFLICT,
        f"{where} (spec.key.secretName) is {whose}; a managed client's key Secret is written "
        "by the operator and nothing else's is changed: name a Secret that does not exist yet "
        "(the operator creates it) or leave out key.secretName",
    )


def _ring_keys(jwks: bytes, states: Mapping[str, Mapping[str, Any]], where: str) -> list[RingKey]:
    try:
        document = json.loads(jwks)
        entries = document["keys"]
        keys = [load_jwk(json.dumps(entry), source=f"{where} 'jwks'") for entry in entries]
    except (ValueError, KeyError, TypeError, InvalidKeyError):
        raise Failure(
            Reason.KEY_INVALID, f"{where} 'jwks' is not the key set the operator wrote"
        ) from None
    ring = []
    for key in keys:
        state = states.get(key.kid, {})
        ring.append(
            RingKey(
                key,
                str(state.get("state", RETIRING)),
                activated_at=_number(state.get("activatedAt")),
                retire_after=_number(state.get("retireAfter")),
            )
        )
    return ring


def _parse_states(text: str | None) -> dict[str, Mapping[str, Any]]:
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}
    return (
        {k: v for k, v in parsed.items() if isinstance(v, dict)} if isinstance(parsed, dict) else {}
    )


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


async def write_ring(run: Reconciliation, spec: ClientSpec, ring: KeyRing) -> KeyRing:
    """Replace the key Secret's ``jwk``, ``jwks`` and states with ``ring`` (only if unchanged
    since :func:`read_ring` read it and found it the operator's key Secret for this resource:
    a conflict is retried with back-off, never overwritten)."""
    signing = ring.signing.key
    jwks = {"keys": [json.loads(k.key.private_jwk_json()) for k in ring.keys]}
    name = spec.key_secret_name(run.ref.name)
    body = workload.secret_body(
        name=name,
        namespace=run.ref.namespace,
        owner=run.ref.owner,
        role=workload.Role.KEY,
        data={"jwk": signing.private_jwk_json(), JWKS_DATA_KEY: json.dumps(jwks)},
        annotations={KEY_ID_ANNOTATION: signing.kid, KEYS_ANNOTATION: _states(ring.keys)},
        owned=spec.key.deletion_policy is DeletionPolicy.DELETE,
    )
    stored = await kube_call(run.deps.kube.replace_secret(run.ref.namespace, body, ring.version))
    written = replace(ring, version=str(stored.get("metadata", {}).get("resourceVersion", "")))
    run.memory.ring = written
    return written


async def add_pending(run: Reconciliation, spec: ClientSpec, ring: KeyRing) -> KeyRing:
    """A new key, generated off the event loop and stored (``Pending``) before anything else."""
    key = await asyncio.to_thread(generate_client_key)
    return await write_ring(run, spec, replace(ring, keys=(*ring.keys, RingKey(key, PENDING))))


async def promote(
    run: Reconciliation, spec: ClientSpec, ring: KeyRing, *, retire_after: float
) -> KeyRing:
    """The pending key becomes the signing key; the old one retires after ``retire_after``."""
    keys = tuple(
        RingKey(k.key, ACTIVE, activated_at=run.now)
        if k.state == PENDING
        else replace(k, state=RETIRING, retire_after=retire_after)
        if k.state == ACTIVE
        else k
        for k in ring.keys
    )
    return await write_ring(run, spec, replace(ring, keys=keys))


async def remove(
    run: Reconciliation, spec: ClientSpec, ring: KeyRing, removed: Sequence[RingKey]
) -> KeyRing:
    gone = {k.kid for k in removed}
    kept = tuple(k for k in ring.keys if k.kid not in gone)
    return await write_ring(run, spec, replace(ring, keys=kept))
