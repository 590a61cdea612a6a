"""The client's keys, read once per reconciliation from the key Secret: the signing key (read
from its Secret, or generated once when there is none) and, for a managed client, its key ring
(:mod:`.ring`)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from maskinporten_operator.api import (
    KEY_ID_ANNOTATION,
    ClientSpec,
    DeletionPolicy,
    KeySource,
    KeySpec,
)
from maskinporten_operator.credentials import certificates
from maskinporten_operator.credentials.keys import ClientKey, InvalidKeyError, generate_client_key
from maskinporten_operator.credentials.secret_data import (
    MissingDataError,
    password_in,
    raw_data,
    read_key,
)
from maskinporten_operator.reasons import EventType, Reason
from maskinporten_operator.reconcile import ring, secret_bodies
from maskinporten_operator.reconcile.effects import (
    Reconciliation,
    create_or_read,
    read_secret,
    with_data,
)
from maskinporten_operator.reconcile.memory import KnownKey
from maskinporten_operator.reconcile.results import Event, Failure
from maskinporten_operator.rfc3339 import format_time


@dataclass(frozen=True)
class Keys:
    """The keys a reconciliation works with, and what reading them found."""

    known: KnownKey
    """The signing key (grants are signed with it; for a managed client, the ring's Active
    key) and the digest of what it was read from."""
    ring: ring.KeyRing | None
    """A managed client's key ring; None for a client with a clientId."""
    generated: Event | None
    """``KeyGenerated`` when the key was generated just now."""

    @property
    def signing(self) -> ClientKey:
        return self.known.key


async def read_keys(run: Reconciliation, spec: ClientSpec) -> Keys:
    """Read the key Secret (generating a key into a new one when there is none and the spec
    lets the operator), then the signing key and, for a managed client, the ring. What was read
    before from the same Secret data is not read again: the Secret's data (one GET) only when
    the key or the ring must be parsed and the watch served the Secret without it."""
    secret, generated = await _key_secret(run, spec)
    password_secret = await _password_secret(run, spec)
    digest = _digest(secret, password_secret, spec.key)
    known = _known_key(run, digest)
    key_ring = _known_ring(run, secret) if spec.managed else None
    if known is None or (spec.managed and key_ring is None):
        secret = await with_data(run.deps.kube, secret)
        digest = _digest(secret, password_secret, spec.key)  # of the version read, if newer
    if known is None:
        known = await _parsed_key(run, spec, secret, password_secret, digest)
    if spec.managed and key_ring is None:
        key_ring = await _parsed_ring(run, spec, secret, known.key)
    return Keys(known, key_ring, generated)


async def _key_secret(run: Reconciliation, spec: ClientSpec) -> tuple[dict[str, Any], Event | None]:
    ref = run.ref
    name = spec.key_secret_name(ref.name)
    where = f"Secret {ref.namespace}/{name}"
    expected = spec.key.source is KeySource.EXISTING or bool(run.status.get("keyId"))
    secret = await read_secret(run.deps.kube, ref.namespace, name, unlabelled=expected)
    if secret is not None:
        return secret, None
    if spec.key.source is KeySource.EXISTING:
        raise Failure(
            Reason.KEY_SECRET_MISSING,
            f"key {where} not found: create it with the client's private JWK under 'jwk' "
            "(or a PEM key under 'key.pem' and its kid under 'kid'), or set "
            "spec.key.source to Generated",
        )
    if run.status.get("keyId"):
        raise Failure(
            Reason.KEY_SECRET_MISSING,
            f"key {where} that held key {run.status['keyId']} is gone; no new key is "
            "generated behind your back: restore the Secret, or delete and recreate this "
            "MaskinportenClient to generate a new key (which must then be registered)",
        )
    return await _generate_key(run, spec, name)


async def _generate_key(
    run: Reconciliation, spec: ClientSpec, name: str
) -> tuple[dict[str, Any], Event | None]:
    """A new key in a new Secret, and its Event; or the Secret of that name already there
    without the operator's labels (HTTP 409), to be read instead."""
    key = await asyncio.to_thread(generate_client_key)  # ~0.1-1 s of CPU: off the event loop
    body = secret_bodies.secret_body(
        name=name,
        namespace=run.ref.namespace,
        owner=run.ref.owner,
        role=secret_bodies.Role.KEY,
        data={"jwk": key.private_jwk_json()},
        annotations={
            KEY_ID_ANNOTATION: key.kid,
            **(ring.initial_annotation(key, run.now) if spec.managed else {}),
        },
        owned=spec.key.deletion_policy is DeletionPolicy.DELETE,
    )
    secret, created = await create_or_read(run.deps.kube, run.ref.namespace, body)
    if not created:
        return secret, None
    register = "" if spec.managed else "; register its public JWK (status.publicJwk) on the client"
    generated = Event(
        EventType.NORMAL,
        Reason.KEY_GENERATED,
        f"generated RSA 2048 key {key.kid} in Secret {name}{register}",
    )
    return secret, generated


def _known_key(run: Reconciliation, digest: bytes) -> KnownKey | None:
    """The key read before from the same material, by this resource's last reconciliation or
    by another resource (``run.deps.keys``); None when there is none, or when its
    certificate's validity ended (reading it again says why it cannot be used)."""
    last = run.memory.key
    known = last if last is not None and last.digest == digest else run.deps.keys.get(digest)
    now = datetime.fromtimestamp(run.now, UTC)
    return known if known is not None and _certificate_valid(known.key, now) else None


async def _parsed_key(
    run: Reconciliation,
    spec: ClientSpec,
    secret: Mapping[str, Any],
    password_secret: dict[str, Any] | None,
    digest: bytes,
) -> KnownKey:
    """The key in ``secret`` (with its data), parsed off the event loop."""
    where = f"Secret {run.ref.namespace}/{spec.key_secret_name(run.ref.name)}"
    password = await _password(run, spec, password_secret)
    now = datetime.fromtimestamp(run.now, UTC)
    try:  # a password-protected key or a keystore costs tens of ms of CPU
        key = await asyncio.to_thread(
            read_key, raw_data(secret), spec.key, source=where, password=password, now=now
        )
    except InvalidKeyError as error:
        raise Failure(Reason.KEY_INVALID, str(error)) from None
    return run.deps.keys.add(KnownKey(digest, key))


def _known_ring(run: Reconciliation, secret: Mapping[str, Any]) -> ring.KeyRing | None:
    """The ring as last read, when ``secret`` is still the version it was read from."""
    version = str(secret.get("metadata", {}).get("resourceVersion", ""))
    known = run.memory.ring
    return known if known is not None and known.version == version and version else None


async def _parsed_ring(
    run: Reconciliation, spec: ClientSpec, secret: Mapping[str, Any], signing: ClientKey
) -> ring.KeyRing:
    """The ring in ``secret`` (with its data), parsed off the event loop."""
    where = f"Secret {run.ref.namespace}/{spec.key_secret_name(run.ref.name)}"
    return await asyncio.to_thread(
        ring.ring_in_secret, secret, signing, resource=run.ref.name, where=where
    )


def _digest(
    secret: Mapping[str, Any], password_secret: Mapping[str, Any] | None, key_spec: KeySpec
) -> bytes:
    """Of everything a key is read from: ``spec.key``, the key Secret's data and the password
    Secret's (kept in memory only, never shown)."""
    digest = hashlib.sha256(key_spec.model_dump_json().encode())
    digest.update(b"\x00" + secret_bodies.data_digest(secret))
    if password_secret is not None:
        digest.update(b"\x01" + secret_bodies.data_digest(password_secret))
    return digest.digest()


def _certificate_valid(key: ClientKey, now: datetime) -> bool:
    """A key read earlier is reused only while its certificate (if any) is valid: past that,
    reading it again says why it cannot be used."""
    leaf = certificates.leaf_certificate(key)
    return leaf is None or leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc


async def _password_secret(run: Reconciliation, spec: ClientSpec) -> dict[str, Any] | None:
    """The Secret ``spec.key.passwordSecretRef`` names (perhaps without its data); None when
    there is no reference. Raises :class:`Failure` when it is missing."""
    reference = spec.key.password_secret_ref
    if reference is None:
        return None
    namespace = run.ref.namespace
    secret = await read_secret(run.deps.kube, namespace, reference.name, unlabelled=True)
    if secret is None:
        where = f"password Secret {namespace}/{reference.name}"
        raise Failure(Reason.KEY_SECRET_MISSING, f"{where} (spec.key.passwordSecretRef) not found")
    return secret


async def _password(
    run: Reconciliation, spec: ClientSpec, secret: dict[str, Any] | None
) -> bytes | None:
    """The password in ``secret`` (the password Secret, read again if served without its
    data); None without ``spec.key.passwordSecretRef``."""
    reference = spec.key.password_secret_ref
    if reference is None or secret is None:
        return None
    where = f"password Secret {run.ref.namespace}/{reference.name}"
    secret = await with_data(run.deps.kube, secret)
    try:
        return password_in(raw_data(secret), reference.key, where=where)
    except MissingDataError as error:
        raise Failure(Reason.KEY_SECRET_MISSING, str(error)) from None


def certificate_status(
    key: ClientKey, status: Mapping[str, Any], now: float
) -> tuple[dict[str, Any], Event | None]:
    """``certificateNotAfter`` and, within the warning window, ``certificateWarning``; and a
    ``CertificateExpiring`` Warning Event when the window is entered (not while in it)."""
    leaf = certificates.leaf_certificate(key)
    if leaf is None:
        return {"certificateNotAfter": None, "certificateWarning": None}, None
    warning = certificates.expiry_warning(key, now=datetime.fromtimestamp(now, UTC))
    fields = {
        "certificateNotAfter": format_time(leaf.not_valid_after_utc.timestamp()),
        "certificateWarning": warning,
    }
    if warning is None or status.get("certificateWarning"):
        return fields, None
    return fields, Event(EventType.WARNING, Reason.CERTIFICATE_EXPIRING, warning)
