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

Pure: the ring read from a Secret, its changes, and the Secret that stores it. Rotation, which
decides the changes, is :mod:`.rotation`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
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
from maskinporten_operator.credentials.keys import ClientKey, InvalidKeyError
from maskinporten_operator.credentials.secret_data import raw_data
from maskinporten_operator.reasons import Reason
from maskinporten_operator.reconcile import secret_bodies
from maskinporten_operator.reconcile.results import Failure

KEYS_ANNOTATION = f"{GROUP}/keys"
"""On a managed client's key Secret: each key's state and times (JSON, no key material)."""
JWKS_DATA_KEY = "jwks"

PENDING = "Pending"
ACTIVE = "Active"
RETIRING = "Retiring"


@dataclass(frozen=True)
class RingKey:
    """A managed client's key: its state, when it became the signing key, and after when it is
    removed once retiring (epoch seconds)."""

    key: ClientKey
    state: str
    activated_at: float | None = None
    retire_after: float | None = None

    @property
    def kid(self) -> str:
        return self.key.kid

    def described(self) -> dict[str, Any]:
        described: dict[str, Any] = {"state": self.state}
        if self.activated_at is not None:
            described["activatedAt"] = self.activated_at
        if self.retire_after is not None:
            described["retireAfter"] = self.retire_after
        return described


@dataclass(frozen=True)
class KeyRing:
    """Every key the operator generated for a managed client, as its key Secret holds them."""

    keys: tuple[RingKey, ...]
    version: str
    """The key Secret's resourceVersion the ring was read from (or written as)."""

    @property
    def signing(self) -> RingKey:
        return next(k for k in self.keys if k.state == ACTIVE)

    @property
    def pending(self) -> RingKey | None:
        return next((k for k in self.keys if k.state == PENDING), None)

    def due_for_removal(self, now: float) -> list[RingKey]:
        return [
            k
            for k in self.keys
            if k.state == RETIRING and k.retire_after is not None and k.retire_after <= now
        ]

    def with_pending(self, key: ClientKey) -> KeyRing:
        return replace(self, keys=(*self.keys, RingKey(key, PENDING)))

    def promoted(self, now: float, *, retire_after: float) -> KeyRing:
        """The pending key becomes the signing key; the old one retires after ``retire_after``."""
        keys = tuple(
            RingKey(k.key, ACTIVE, activated_at=now)
            if k.state == PENDING
            else replace(k, state=RETIRING, retire_after=retire_after)
            if k.state == ACTIVE
            else k
            for k in self.keys
        )
        return replace(self, keys=keys)

    def without(self, removed: Sequence[RingKey]) -> KeyRing:
        gone = {k.kid for k in removed}
        return replace(self, keys=tuple(k for k in self.keys if k.kid not in gone))


def initial_annotation(key: ClientKey, now: float) -> dict[str, str]:
    """The annotation of a managed client's first key, generated just now."""
    return {KEYS_ANNOTATION: _states([RingKey(key, ACTIVE, activated_at=now)])}


def _states(keys: Sequence[RingKey]) -> str:
    return json.dumps({k.kid: k.described() for k in keys}, sort_keys=True)


def ring_in_secret(
    secret: Mapping[str, Any], signing: ClientKey, *, resource: str, where: str
) -> KeyRing:
    """The ring the key Secret ``secret`` (named ``where`` in messages) of the resource named
    ``resource`` holds (``signing`` is its ``jwk``, already read). CPU-heavy with several keys:
    call it off the event loop. Raises :class:`Failure` unless it is the operator's key Secret of
    that resource and its ``jwk`` is the ring's Active key."""
    metadata = secret.get("metadata", {})
    _check_ours(secret, resource, where)
    version = str(metadata.get("resourceVersion", ""))
    states = _parse_states((metadata.get("annotations") or {}).get(KEYS_ANNOTATION))
    data = raw_data(secret)
    if JWKS_DATA_KEY not in data:
        state = states.get(signing.kid, {})
        only = RingKey(signing, ACTIVE, activated_at=_number(state.get("activatedAt")))
        return KeyRing((only,), version)
    keys = tuple(_ring_keys(data[JWKS_DATA_KEY], states, where))
    if not any(k.kid == signing.kid and k.state == ACTIVE for k in keys):
        raise Failure(
            Reason.KEY_INVALID,
            f"{where}: its 'jwk' (key {signing.kid}) is not the Active key of its 'jwks'; "
            "restore the Secret as the operator wrote it",
        )
    return KeyRing(keys, version)


def _check_ours(secret: Mapping[str, Any], resource: str, where: str) -> None:
    """Raise :class:`Failure` unless ``secret`` is the key Secret the operator created for the
    resource named ``resource``: the ring is written back whole, so anyone else's Secret would
    lose its data."""
    metadata = secret.get("metadata", {})
    role = (metadata.get("labels") or {}).get(ROLE_LABEL)
    owner = (metadata.get("annotations") or {}).get(CLIENT_ANNOTATION)
    if role == secret_bodies.Role.KEY and owner == resource:
        return
    whose = (
        f"the key Secret of MaskinportenClient {owner}"
        if role == secret_bodies.Role.KEY and owner
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
    return [
        RingKey(
            key,
            str(states.get(key.kid, {}).get("state", RETIRING)),
            activated_at=_number(states.get(key.kid, {}).get("activatedAt")),
            retire_after=_number(states.get(key.kid, {}).get("retireAfter")),
        )
        for key in keys
    ]


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


def ring_secret_body(
    spec: ClientSpec, ring: KeyRing, *, namespace: str, owner: secret_bodies.Owner
) -> dict[str, Any]:
    """The key Secret holding ``ring``: ``jwk`` (the signing key), ``jwks`` and the states."""
    signing = ring.signing.key
    jwks = {"keys": [json.loads(k.key.private_jwk_json()) for k in ring.keys]}
    return secret_bodies.secret_body(
        name=spec.key_secret_name(owner.name),
        namespace=namespace,
        owner=owner,
        role=secret_bodies.Role.KEY,
        data={"jwk": signing.private_jwk_json(), JWKS_DATA_KEY: json.dumps(jwks)},
        annotations={KEY_ID_ANNOTATION: signing.kid, KEYS_ANNOTATION: _states(ring.keys)},
        owned=spec.key.deletion_policy is DeletionPolicy.DELETE,
    )
