"""Bad inputs the CRD lets through — key Secrets of every wrong shape, malformed specs, huge
values, unicode, names at their limits, an issuer not allowed, what the server refuses — each
end in a clear condition (a reason and a message naming what to fix), never in a crash or a
loop restart; and the good resources beside them keep their tokens throughout."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import ECKey

from maskinporten_operator.credentials.keys import generate_client_key
from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread
from maskinporten_testbed.testca import CertificateAuthority
from tests.integration.helpers import ORG, Cluster, provision, register

from .bed import (
    DEADLINE,
    LOOP_RESTART_MARKERS,
    QUICK_SCOPE,
    FaultBed,
    crashes,
    report,
    token_of,
)

PASSWORD = b"correct horse"
JKS_MAGIC = bytes.fromhex("feedfeed00000002")


@dataclass
class BadInput:
    """A resource made of bad input, and what its Ready condition must say."""

    name: str
    reason: str
    says: tuple[str, ...]
    """Fragments of the message: what is wrong, and where to fix it."""
    spec: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, dict[str, bytes]] = field(default_factory=dict)
    """Secrets to create first: name → data."""
    status: str = "False"


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _key_secret(name: str, data: dict[str, bytes], **key: Any) -> BadInput:
    """A resource whose key Secret (``<name>-key``) holds ``data`` (what it must say: later)."""
    return BadInput(
        name,
        "",
        (),
        spec={"key": {"source": "Existing", "secretName": f"{name}-key", **key}},
        secrets={f"{name}-key": data},
    )


def bad_inputs(
    cluster: Cluster, standin: StandinThread, ca: CertificateAuthority
) -> list[BadInput]:
    ns = cluster.namespace
    key = generate_client_key()
    jwk = key.private_jwk_json().encode()
    rsa_1024 = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - refused
    ec_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    expired = ca.issue(ORG, not_after=now - timedelta(days=1))
    future = ca.issue(ORG, not_before=now + timedelta(days=30), not_after=now + timedelta(days=400))
    no_signing = ca.issue(ORG, digital_signature=False)
    valid_cert = ca.issue(ORG)
    other_cert = ca.issue(ORG)
    registered = f"{ns}-registered"
    register(standin, registered, key, scopes=(QUICK_SCOPE,), resources=("https://api.example/",))

    def named(case: BadInput, reason: str, *says: str, **extra: Any) -> BadInput:
        case.reason, case.says = reason, says
        for field_name, value in extra.items():
            setattr(case, field_name, value)
        return case

    cases = [
        named(
            _key_secret("public-only", {"jwk": key.public_jwk_json().encode()}),
            "KeyInvalid",
            "public key only",
        ),
        named(
            _key_secret(
                "ec-jwk",
                {"jwk": json.dumps(ECKey.generate_key("P-256").as_dict(private=True)).encode()},
            ),
            "KeyInvalid",
            "RSA",
        ),
        named(_key_secret("ec-pem", {"key.pem": _pem(ec_key), "kid": b"ec"}), "KeyInvalid", "RSA"),
        named(
            _key_secret("rsa-1024", {"key.pem": _pem(rsa_1024), "kid": b"small"}),
            "KeyInvalid",
            "1024-bit",
        ),
        named(_key_secret("garbage", {"jwk": b"\x00\xff not a key at all"}), "KeyInvalid", "jwk"),
        named(_key_secret("empty-value", {"jwk": b""}), "KeyInvalid", "jwk"),
        named(_key_secret("no-data", {}), "KeyInvalid", f"{ns}/no-data-key"),
        named(_key_secret("unrelated-data", {"username": b"admin"}), "KeyInvalid", "jwk"),
        named(_key_secret("huge-value", {"jwk": b"A" * 900_000}), "KeyInvalid", "jwk"),
        named(
            _key_secret(
                "wrong-password",
                {"keystore.p12": valid_cert.pkcs12(PASSWORD), "password": b"wrong"},
                passwordSecretRef={"name": "wrong-password-key"},
            ),
            "KeyInvalid",
            "password",
        ),
        named(
            _key_secret(
                "no-password-secret",
                {"keystore.p12": valid_cert.pkcs12(PASSWORD)},
                passwordSecretRef={"name": "nowhere"},
            ),
            "KeySecretMissing",
            f"{ns}/nowhere",
        ),
        named(
            _key_secret(
                "password-key-missing",
                {"keystore.p12": valid_cert.pkcs12(PASSWORD)},
                passwordSecretRef={"name": "password-key-missing-key", "key": "pin"},
            ),
            "KeySecretMissing",
            "'pin'",
        ),
        named(
            _key_secret(
                "jks",
                {"keystore.p12": JKS_MAGIC + b"\x00" * 64, "password": PASSWORD},
                passwordSecretRef={"name": "jks-key"},
            ),
            "KeyInvalid",
            "keytool",
        ),
        named(
            _key_secret(
                "expired-cert",
                {"keystore.p12": expired.pkcs12(PASSWORD), "password": PASSWORD},
                passwordSecretRef={"name": "expired-cert-key"},
            ),
            "KeyInvalid",
            "expired",
        ),
        named(
            _key_secret(
                "future-cert",
                {"keystore.p12": future.pkcs12(PASSWORD), "password": PASSWORD},
                passwordSecretRef={"name": "future-cert-key"},
            ),
            "KeyInvalid",
            "not valid",
        ),
        named(
            _key_secret(
                "no-signing-cert",
                {"keystore.p12": no_signing.pkcs12(PASSWORD), "password": PASSWORD},
                passwordSecretRef={"name": "no-signing-cert-key"},
            ),
            "KeyInvalid",
            "signature",
        ),
        named(
            _key_secret(
                "mismatched-chain",
                {"tls.key": valid_cert.private_key_pem(), "tls.crt": other_cert.chain_pem()},
            ),
            "KeyInvalid",
            "match",
        ),
        named(
            _key_secret("certificate-mode-jwk", {"jwk": jwk}, mode="Certificate"),
            "KeyInvalid",
            "certificate",
        ),
        named(
            _key_secret(
                "pem-without-kid",
                {"key.pem": _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))},
            ),
            "KeyInvalid",
            "keyId",
        ),
        named(
            _key_secret("missing-data-key", {"jwk": jwk}, secretKey="elsewhere"),
            "KeyInvalid",
            "elsewhere",
        ),
        named(
            _key_secret(
                "unicode-kid", {"jwk": json.dumps({**json.loads(jwk), "kid": "nøkkel-🔑"}).encode()}
            ),
            "TokenRequestRejected",
            "MP-100",
        ),
        named(
            BadInput(
                "no-key-secret",
                "",
                (),
                spec={"key": {"source": "Existing", "secretName": "absent"}},
            ),
            "KeySecretMissing",
            f"{ns}/absent",
        ),
        named(
            BadInput("elsewhere", "", (), spec={"issuer": "https://evil.example/"}),
            "InvalidSpec",
            "MASKINPORTEN_OPERATOR_ALLOWED_ISSUERS",
        ),
        named(
            BadInput("unicode-issuer", "", (), spec={"issuer": "https://maskinpørten.no/"}),
            "InvalidSpec",
            "MASKINPORTEN_OPERATOR_ALLOWED_ISSUERS",
        ),
        named(
            BadInput(
                "scope-refused",
                "",
                (),
                spec={"scopes": {"consumes": [{"name": "fault:not-granted"}]}},
            ),
            "TokenRequestRejected",
            "invalid_scope",
        ),
        named(
            BadInput("unicode-client", "", (), spec={"clientId": "klient-æøå-🔑"}),
            "TokenRequestRejected",
            "invalid_grant",
        ),
        named(
            BadInput("huge-client", "", (), spec={"clientId": "c" * 256}),
            "TokenRequestRejected",
            "invalid_grant",
        ),
        named(
            BadInput("resource-refused", "", (), spec={"resource": "https://other.example/"}),
            "TokenRequestRejected",
            "invalid_target",
        ),
        named(
            BadInput("unicode-resource", "", (), spec={"resource": "https://api.example/vær"}),
            "TokenRequestRejected",
            "invalid_target",
        ),
        named(
            BadInput("no-delegation", "", (), spec={"consumerOrg": "987654321"}),
            "TokenRequestRejected",
            "MP-250",
        ),
        named(
            BadInput("client-credentials", "", (), spec={"grantType": "ClientCredentials"}),
            "TokenRequestRejected",
            "unsupported_grant_type",
        ),
        named(
            BadInput(
                "taken",
                "",
                (),
                spec={"secretName": "taken-by-someone"},
                secrets={"taken-by-someone": {"app": b"data"}},
            ),
            "SecretConflict",
            "spec.secretName",
        ),
    ]
    for case in cases:  # the key Secret holds the registered key where the case is not about it
        if "key" not in case.spec:
            case.spec["key"] = {"source": "Existing", "secretName": f"{case.name}-key"}
            case.secrets.setdefault(f"{case.name}-key", {"jwk": jwk})
        case.spec.setdefault("clientId", registered)
        case.spec.setdefault("scopes", {"consumes": [{"name": QUICK_SCOPE}]})
    long_name = "n" * 200 + "-" + "x" * 52  # 253 characters: the longest name the API takes
    at_limits = [
        BadInput("label-limit-" + "l" * 52, "TokenIssued", (), status="True"),  # 64 > label's 63
        BadInput(
            long_name,
            "TokenIssued",
            (),
            status="True",
            spec={
                "secretName": "long-token",
                "key": {"source": "Existing", "secretName": "long-key"},
            },
        ),
    ]
    for case in at_limits:
        case.spec.setdefault("key", {"source": "Existing", "secretName": f"{case.name[:40]}-key"})
        case.secrets.setdefault(case.spec["key"]["secretName"], {"jwk": jwk})
        case.spec.setdefault("clientId", registered)
        case.spec.setdefault("scopes", {"consumes": [{"name": QUICK_SCOPE}]})
    return cases + at_limits


def _says_what_to_fix(cluster: Cluster, case: BadInput) -> str | None:
    """Why ``case`` does not (yet) have the condition it must have; None when it has."""
    ready = cluster.condition(case.name)
    if ready.get("status") != case.status or ready.get("reason") != case.reason:
        return f"{case.name}: {ready.get('status')} {ready.get('reason')} {ready.get('message')}"
    missing = [s for s in case.says if s not in ready.get("message", "")]
    return f"{case.name}: message {ready.get('message')!r} lacks {missing}" if missing else None


def test_each_bad_input_gets_a_clear_condition_and_costs_the_others_nothing(
    bed: FaultBed, standin: StandinThread, ca: CertificateAuthority
) -> None:
    standin.trust_ca(ca.root)
    cluster = bed.namespace()
    bed.start_operator()
    good = [f"good-{i}" for i in range(3)]
    for name in good:
        provision(cluster, standin, name, scopes=(QUICK_SCOPE,))
    bed.ready_within(cluster, good)
    first = {name: token_of(cluster, name) for name in good}

    cases = bad_inputs(cluster, standin, ca)
    for case in cases:
        for secret, data in case.secrets.items():
            cluster.put_binary_secret(secret, data)
        cluster.create_client(case.name, case.spec)
    unclear: list[str] = []

    def all_clear() -> bool:
        unclear[:] = [w for c in cases if (w := _says_what_to_fix(cluster, c)) is not None]
        return not unclear

    try:
        eventually(all_clear, what="every bad input's condition", timeout=DEADLINE, interval=1)
    except TimeoutError:
        raise AssertionError("\n".join(unclear)) from None
    eventually(
        lambda: all(token_of(cluster, n) != first[n] for n in good),
        what="the good resources refreshed",
        timeout=DEADLINE,
    )
    log = bed.logs()
    warnings = [
        e
        for e in cluster.events()
        if e["type"] == "Warning" and e["involvedObject"]["name"] in good
    ]
    report(
        "bad-inputs",
        inputs=len(cases),
        clear_conditions=len(cases) - len(unclear),
        good_refreshed=len(good),
        good_warnings=len(warnings),
        crashes=len(crashes(log)),
        loop_restarts=len(crashes(log, LOOP_RESTART_MARKERS)),
        internal_errors=log.count("InternalError"),
    )
    assert len(cases) >= 25
    assert warnings == []
    assert crashes(log) == []
    assert "InternalError" not in log
