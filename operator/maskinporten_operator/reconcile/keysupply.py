"""The client key: read from its Secret, or generated once when there is none."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from maskinporten_operator.api import ClientSpec, DeletionPolicy, KeyMode, KeySource, KeySpec
from maskinporten_operator.credentials import certificates
from maskinporten_operator.credentials.formats import (
    JKS_MAGIC,
    PEM_CERTIFICATE,
    Mode,
    load_keystore,
    load_pem,
    load_pkcs12,
)
from maskinporten_operator.credentials.keys import (
    JWK_DATA_KEYS,
    KID_DATA_KEY,
    PEM_DATA_KEYS,
    ClientKey,
    InvalidKeyError,
    generate_client_key,
    load_client_key,
)
from maskinporten_operator.reconcile import workload
from maskinporten_operator.reconcile.context import (
    ClientRef,
    Dependencies,
    Event,
    Failure,
    kube_call,
)

PKCS12_DATA_KEYS = ("keystore.p12", "keystore.pfx", "certificate.p12")
CHAIN_DATA_KEYS = ("tls.crt", "certificate.pem", "chain.pem")
KEY_DATA_KEYS = (*JWK_DATA_KEYS, *PKCS12_DATA_KEYS, *PEM_DATA_KEYS)
CERTIFICATE_FIRST = (*PKCS12_DATA_KEYS, *PEM_DATA_KEYS, *JWK_DATA_KEYS)
MODES: dict[KeyMode, Mode | None] = {
    KeyMode.AUTO: None,
    KeyMode.KEY_ID: "kid",
    KeyMode.CERTIFICATE: "x5c",
}


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
    password = await _password(ref, spec, deps)
    try:
        return read_key(
            workload.raw_data(secret),
            spec.key,
            source=where,
            password=password,
            now=datetime.fromtimestamp(deps.clock(), UTC),
        )
    except InvalidKeyError as error:
        raise Failure("KeyInvalid", str(error)) from None


def read_key(
    data: Mapping[str, bytes],
    key_spec: KeySpec,
    *,
    source: str,
    password: bytes | None,
    now: datetime,
) -> ClientKey:
    """The key in a Secret's data: a private JWK, a PKCS#12 keystore, or a PEM private key
    (certificates, when present in it or under ``tls.crt``, make it a business certificate)."""
    mode = MODES[key_spec.mode]
    candidates = CERTIFICATE_FIRST if mode == "x5c" else KEY_DATA_KEYS
    name = key_spec.secret_key or next((k for k in candidates if k in data), None)
    text = {k: v.decode(errors="replace") for k, v in data.items()}
    if name is None or name not in data or name in JWK_DATA_KEYS:
        return load_client_key(text, source=source, data_key=name, key_id=key_spec.key_id)
    where = f"{source} key '{name}'"
    key_id = key_spec.key_id or text.get(KID_DATA_KEY, "").strip() or None
    if data[name][:4] in JKS_MAGIC:
        return load_keystore(data[name], source=where, now=now, password=password, alias=None)
    if name in PKCS12_DATA_KEYS or data[name][:1] == b"0":
        key = load_pkcs12(
            data[name], source=where, now=now, password=password, key_id=key_id, mode=mode
        )
    else:
        chain = b"".join(data[k] for k in CHAIN_DATA_KEYS if k in data and k != name)
        if PEM_CERTIFICATE not in data[name] + chain and password is None and mode != "x5c":
            return load_client_key(text, source=source, data_key=name, key_id=key_spec.key_id)
        key = load_pem(
            data[name],
            source=where,
            now=now,
            password=password,
            chain=chain,
            key_id=key_id,
            mode=mode,
        )
    if not key.certificate_chain and key_id is None:
        raise InvalidKeyError(
            f"{where} is sent by key id, but none is given: set spec.key.keyId to the kid "
            f"registered at Maskinporten, or add it to the Secret under '{KID_DATA_KEY}'"
        )
    return key


async def _password(ref: ClientRef, spec: ClientSpec, deps: Dependencies) -> bytes | None:
    reference = spec.key.password_secret_ref
    if reference is None:
        return None
    secret = await kube_call(deps.kube.get_secret(ref.namespace, reference.name))
    where = f"password Secret {ref.namespace}/{reference.name}"
    if secret is None:
        raise Failure("KeySecretMissing", f"{where} (spec.key.passwordSecretRef) not found")
    password = workload.raw_data(secret).get(reference.key)
    if password is None:
        raise Failure("KeySecretMissing", f"{where} has no key '{reference.key}'")
    return password.rstrip(b"\r\n")


async def _generate_key(
    ref: ClientRef, spec: ClientSpec, name: str, deps: Dependencies, events: list[Event]
) -> ClientKey:
    key = generate_client_key()
    body = workload.secret_body(
        name=name,
        namespace=ref.namespace,
        owner=ref.owner,
        role=workload.Role.KEY,
        data={"jwk": key.private_jwk_json()},
        annotations={workload.KEY_ID_ANNOTATION: key.kid},
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


def certificate_status(
    key: ClientKey, status: Mapping[str, Any], now: float, events: list[Event]
) -> dict[str, Any]:
    """``certificateNotAfter`` and, within the warning window, ``certificateWarning`` (with one
    Warning Event when the window is entered)."""
    leaf = certificates.leaf_certificate(key)
    if leaf is None:
        return {"certificateNotAfter": None, "certificateWarning": None}
    warning = certificates.expiry_warning(key, now=datetime.fromtimestamp(now, UTC))
    if warning is not None and not status.get("certificateWarning"):
        events.append(Event("Warning", "CertificateExpiring", warning))
    return {
        "certificateNotAfter": workload.rfc3339(leaf.not_valid_after_utc.timestamp()),
        "certificateWarning": warning,
    }
