"""Client keys: the ones the operator generates, and the ones users bring in a Secret (read by
``read_key``, which hands each to the reader of its format).

Every rejection names the Secret and data key, says what to change, and never echoes key
material: each rejection test checks that neither the private exponent nor the PEM body leaks.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from joserfc.jwk import ECKey, RSAKey

from maskinporten_operator.api import KeySpec
from maskinporten_operator.credentials.jwk import load_jwk
from maskinporten_operator.credentials.keys import ClientKey, InvalidKeyError, generate_client_key
from maskinporten_operator.credentials.secret_data import read_key
from maskinporten_testbed.standin import RegisteredKey
from tests.helpers import NOW

SOURCE = "Secret team-a/billing-maskinporten-key"
KID = "billing-2026-11"
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")

PemForm = Callable[[rsa.RSAPrivateKey], str]

# --- key material -------------------------------------------------------------------------------


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, fmt: ser.PrivateFormat) -> str:
    return key.private_bytes(ser.Encoding.PEM, fmt, ser.NoEncryption()).decode()


def pkcs1(key: rsa.RSAPrivateKey) -> str:
    return pem(key, ser.PrivateFormat.TraditionalOpenSSL)


def pkcs8(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return pem(key, ser.PrivateFormat.PKCS8)


def private_jwk(key: rsa.RSAPrivateKey, **members: str) -> dict[str, str]:
    jwk = {k: str(v) for k, v in RSAKey.import_key(pkcs8(key)).as_dict(private=True).items()}
    return {**jwk, **members}


def pem_body(text: str) -> list[str]:
    """The base64 lines of a PEM block (not its armour, headers or blank lines)."""
    return [
        line
        for line in text.strip().splitlines()
        if line and not line.startswith("-----") and ":" not in line
    ]


def secret_values(key: rsa.RSAPrivateKey) -> list[str]:
    """Strings that must never appear in an error message about ``key``."""
    jwk = private_jwk(key)
    return [
        *(jwk[member] for member in PRIVATE_MEMBERS),
        *pem_body(pkcs1(key)),
        *pem_body(pkcs8(key)),
    ]


def read(
    data: dict[str, str], *, key_id: str | None = None, data_key: str | None = None
) -> ClientKey:
    """The key in a Secret holding ``data``, with ``spec.key.keyId`` and ``secretKey`` given."""
    raw = {name: value.encode() for name, value in data.items()}
    key_spec = KeySpec(key_id=key_id, secret_key=data_key)
    return read_key(raw, key_spec, source=SOURCE, password=None, now=NOW)


def rejection(
    data: dict[str, str], *, key_id: str | None = None, data_key: str | None = None
) -> str:
    with pytest.raises(InvalidKeyError) as caught:
        read(data, key_id=key_id, data_key=data_key)
    return str(caught.value)


def assert_names_the_secret(message: str, data_key: str) -> None:
    assert SOURCE in message
    assert f"'{data_key}'" in message


def assert_holds_no(message: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in message


def thumbprint(public_jwk: dict[str, str]) -> str:
    """RFC 7638: SHA-256 over the required members, sorted, without whitespace."""
    required = {"e": public_jwk["e"], "kty": public_jwk["kty"], "n": public_jwk["n"]}
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def rsa_1024() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - a key to be rejected


@pytest.fixture(scope="module")
def rsa_4096() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=4096)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def certificate_pem(rsa_2048: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "billing")])
    now = NOW
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(rsa_2048.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(rsa_2048, hashes.SHA256())
    )
    return certificate.public_bytes(ser.Encoding.PEM).decode()


# --- generated keys -----------------------------------------------------------------------------


def test_generated_key_is_rsa_2048(client_key: ClientKey) -> None:
    raw = client_key.key.raw_value

    assert isinstance(raw, rsa.RSAPrivateKey)
    assert raw.key_size == 2048


def test_each_use_of_a_key_gets_an_openssl_key_of_its_own(client_key: ClientKey) -> None:
    """Held as DER: what OpenSSL caches in a key that signed goes with the use."""
    first, second = client_key.key.raw_value, client_key.key.raw_value

    assert first is not second
    assert isinstance(first, rsa.RSAPrivateKey)
    assert isinstance(second, rsa.RSAPrivateKey)
    assert first.private_numbers() == second.private_numbers()


def test_generated_key_signs_with_rs256(client_key: ClientKey) -> None:
    assert client_key.algorithm == "RS256"


def test_generated_key_id_is_the_rfc_7638_thumbprint(client_key: ClientKey) -> None:
    assert client_key.kid == thumbprint(client_key.public_jwk())


def test_generated_keys_are_distinct(client_key: ClientKey) -> None:
    assert generate_client_key().kid != client_key.kid


def test_public_jwk_has_exactly_kty_e_n_kid_alg_use(client_key: ClientKey) -> None:
    jwk = client_key.public_jwk()

    assert set(jwk) == {"kty", "e", "n", "kid", "alg", "use"}
    assert (jwk["kty"], jwk["kid"], jwk["alg"], jwk["use"]) == (
        "RSA",
        client_key.kid,
        "RS256",
        "sig",
    )


def test_public_jwk_is_accepted_by_the_registration_rules(client_key: ClientKey) -> None:
    registered = RegisteredKey(client_key.public_jwk())

    assert registered.kid == client_key.kid


def test_public_jwk_json_is_compact_json_of_the_public_jwk(client_key: ClientKey) -> None:
    text = client_key.public_jwk_json()

    assert json.loads(text) == client_key.public_jwk()
    assert " " not in text


def test_public_pem_is_a_public_key_only(client_key: ClientKey) -> None:
    loaded = ser.load_pem_public_key(client_key.public_pem().encode())

    assert isinstance(loaded, rsa.RSAPublicKey)
    assert "PRIVATE" not in client_key.public_pem()


def test_private_jwk_json_is_compact_and_carries_kid_alg_and_use(client_key: ClientKey) -> None:
    text = client_key.private_jwk_json()
    jwk = json.loads(text)

    assert " " not in text
    assert {"d", "p", "q", "dp", "dq", "qi"} <= set(jwk)
    assert (jwk["kid"], jwk["alg"], jwk["use"]) == (client_key.kid, "RS256", "sig")


def test_private_jwk_json_round_trips_through_load_jwk(client_key: ClientKey) -> None:
    loaded = load_jwk(client_key.private_jwk_json(), source=SOURCE)

    assert loaded.kid == client_key.kid
    assert loaded.algorithm == client_key.algorithm
    original = client_key.key.as_dict(private=True)
    assert {m: loaded.key.as_dict(private=True)[m] for m in original} == original


def test_client_key_repr_holds_no_key_material(client_key: ClientKey) -> None:
    text = repr(client_key)

    assert str(client_key.key.as_dict(private=True)["d"]) not in text
    assert client_key.kid in text


# --- keys users bring ---------------------------------------------------------------------------


def test_private_jwk_keeps_its_own_kid_and_alg(rsa_2048: rsa.RSAPrivateKey) -> None:
    jwk = private_jwk(rsa_2048, kid=KID, alg="RS512")

    loaded = read({"jwk": json.dumps(jwk)})

    assert (loaded.kid, loaded.algorithm) == (KID, "RS512")


def test_private_jwk_without_kid_is_known_by_its_thumbprint(rsa_2048: rsa.RSAPrivateKey) -> None:
    jwk = private_jwk(rsa_2048)

    loaded = read({"jwk": json.dumps(jwk)})

    assert loaded.kid == thumbprint(jwk)


def test_private_jwk_without_alg_signs_with_rs256(rsa_2048: rsa.RSAPrivateKey) -> None:
    loaded = read({"jwk": json.dumps(private_jwk(rsa_2048))})

    assert loaded.algorithm == "RS256"


def test_key_id_overrides_the_kid_of_a_jwk(rsa_2048: rsa.RSAPrivateKey) -> None:
    jwk = private_jwk(rsa_2048, kid="old")

    loaded = read({"jwk": json.dumps(jwk)}, key_id=KID)

    assert loaded.kid == KID


def test_jwk_inside_brackets_is_accepted(rsa_2048: rsa.RSAPrivateKey) -> None:
    text = json.dumps([private_jwk(rsa_2048, kid=KID)])

    assert read({"jwk": text}).kid == KID


def test_jwk_inside_a_key_set_is_accepted(rsa_2048: rsa.RSAPrivateKey) -> None:
    text = json.dumps({"keys": [private_jwk(rsa_2048, kid=KID)]})

    assert read({"jwk": text}).kid == KID


@pytest.mark.parametrize("keys", [0, 2])
def test_key_set_without_exactly_one_key_is_rejected(
    rsa_2048: rsa.RSAPrivateKey, keys: int
) -> None:
    text = json.dumps({"keys": [private_jwk(rsa_2048, kid=KID)] * keys})

    message = rejection({"jwk": text})

    assert_names_the_secret(message, "jwk")
    assert "store exactly one" in message
    assert_holds_no(message, secret_values(rsa_2048))


def test_pkcs1_pem_takes_its_kid_from_the_kid_data_key(rsa_2048: rsa.RSAPrivateKey) -> None:
    loaded = read({"key.pem": pkcs1(rsa_2048), "kid": KID})

    assert (loaded.kid, loaded.algorithm) == (KID, "RS256")
    assert loaded.key.as_dict(private=True)["d"] == private_jwk(rsa_2048)["d"]


def test_pkcs8_pem_takes_its_kid_from_the_kid_data_key(rsa_2048: rsa.RSAPrivateKey) -> None:
    loaded = read({"key.pem": pkcs8(rsa_2048), "kid": f"  {KID}\n"})

    assert loaded.kid == KID


@pytest.mark.parametrize("form", [pkcs1, pkcs8])
def test_key_id_gives_a_pem_key_its_kid(rsa_2048: rsa.RSAPrivateKey, form: PemForm) -> None:
    loaded = read({"tls.key": form(rsa_2048)}, key_id=KID)

    assert loaded.kid == KID


def test_key_id_overrides_the_kid_data_key(rsa_2048: rsa.RSAPrivateKey) -> None:
    data = {"key.pem": pkcs8(rsa_2048), "kid": "stale"}

    assert read(data, key_id=KID).kid == KID


@pytest.mark.parametrize(
    "name", ["jwk", "MASKINPORTEN_CLIENT_JWK", "key.pem", "tls.key", "private.pem"]
)
def test_usual_data_keys_are_found_without_being_named(
    rsa_2048: rsa.RSAPrivateKey, name: str
) -> None:
    text = pkcs8(rsa_2048) if name.endswith(("pem", "key")) else json.dumps(private_jwk(rsa_2048))

    loaded = read({name: text, "tls.crt": "ignored"}, key_id=KID)

    assert loaded.kid == KID


def test_named_data_key_is_read_instead_of_the_usual_ones(rsa_2048: rsa.RSAPrivateKey) -> None:
    data = {"jwk": "garbage", "signing-key": json.dumps(private_jwk(rsa_2048, kid=KID))}

    loaded = read(data, data_key="signing-key")

    assert loaded.kid == KID


def test_surrounding_whitespace_is_ignored(rsa_2048: rsa.RSAPrivateKey) -> None:
    data = {"key.pem": f"\n\n{pkcs8(rsa_2048)}\n\n", "kid": KID}

    assert read(data).kid == KID


# --- keys that are rejected ---------------------------------------------------------------------


def test_missing_data_key_is_rejected_listing_the_keys_present() -> None:
    message = rejection({"ca.crt": "ca-value-abc", "username": "user-value-xyz"})

    assert SOURCE in message
    assert "'jwk'" in message
    assert "'key.pem'" in message
    assert "present: 'ca.crt', 'username'" in message
    assert "ca-value-abc" not in message
    assert "user-value-xyz" not in message


def test_missing_named_data_key_is_rejected_naming_it_and_the_keys_present(
    rsa_2048: rsa.RSAPrivateKey,
) -> None:
    message = rejection({"jwk": json.dumps(private_jwk(rsa_2048))}, data_key="signing-key")

    assert SOURCE in message
    assert "signing-key" in message
    assert "'jwk'" in message
    assert_holds_no(message, secret_values(rsa_2048))


def test_empty_secret_is_rejected_saying_no_data_keys_are_present() -> None:
    message = rejection({})

    assert SOURCE in message
    assert "present: none" in message


def test_garbage_text_is_rejected_with_the_expected_forms() -> None:
    garbage = "hunter2-this-is-not-a-key"

    message = rejection({"jwk": garbage})

    assert_names_the_secret(message, "jwk")
    assert "private JWK" in message
    assert "-----BEGIN" in message
    assert garbage not in message


def test_json_that_is_not_a_jwk_object_is_rejected() -> None:
    message = rejection({"jwk": '"just a string"'})

    assert_names_the_secret(message, "jwk")
    assert "not a JSON Web Key" in message


def test_public_jwk_only_is_rejected_asking_for_the_private_key(client_key: ClientKey) -> None:
    message = rejection({"jwk": client_key.public_jwk_json()})

    assert_names_the_secret(message, "jwk")
    assert "public key only" in message
    assert "private key" in message
    assert client_key.public_jwk()["n"] not in message


@pytest.mark.parametrize("fmt", [ser.PublicFormat.SubjectPublicKeyInfo, ser.PublicFormat.PKCS1])
def test_public_pem_only_is_rejected_asking_for_the_private_key(
    rsa_2048: rsa.RSAPrivateKey, fmt: ser.PublicFormat
) -> None:
    public = rsa_2048.public_key().public_bytes(ser.Encoding.PEM, fmt).decode()

    message = rejection({"key.pem": public, "kid": KID})

    assert_names_the_secret(message, "key.pem")
    assert "public key only" in message
    assert "PRIVATE KEY" in message
    assert_holds_no(message, [*pem_body(public), *secret_values(rsa_2048)])


def test_certificate_pem_is_rejected_as_not_a_private_key(
    certificate_pem: str, rsa_2048: rsa.RSAPrivateKey
) -> None:
    message = rejection({"tls.key": certificate_pem, "kid": KID})

    assert_names_the_secret(message, "tls.key")
    assert "certificate, not a private key" in message
    assert_holds_no(message, [*pem_body(certificate_pem), *secret_values(rsa_2048)])


def test_encrypted_pkcs8_pem_is_rejected_with_a_hint_to_decrypt_it(
    rsa_2048: rsa.RSAPrivateKey,
) -> None:
    encrypted = rsa_2048.private_bytes(
        ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.BestAvailableEncryption(b"pw")
    ).decode()

    message = rejection({"key.pem": encrypted, "kid": KID})

    assert_names_the_secret(message, "key.pem")
    assert "encrypted" in message
    assert "unencrypted" in message
    assert "spec.key.passwordSecretRef" in message
    assert_holds_no(message, [*pem_body(encrypted), *secret_values(rsa_2048)])


def test_encrypted_pkcs1_pem_is_rejected_with_a_hint_to_decrypt_it(
    rsa_2048: rsa.RSAPrivateKey,
) -> None:
    encrypted = rsa_2048.private_bytes(
        ser.Encoding.PEM, ser.PrivateFormat.TraditionalOpenSSL, ser.BestAvailableEncryption(b"pw")
    ).decode()
    assert "Proc-Type: 4,ENCRYPTED" in encrypted

    message = rejection({"key.pem": encrypted, "kid": KID})

    assert_names_the_secret(message, "key.pem")
    assert_holds_no(message, [*pem_body(encrypted), *secret_values(rsa_2048)])
    assert "encrypted" in message


def test_ec_jwk_is_rejected_because_client_keys_are_rsa(ec_key: ec.EllipticCurvePrivateKey) -> None:
    jwk = {k: str(v) for k, v in _ec_jwk(ec_key).items()}

    message = rejection({"jwk": json.dumps(jwk)})

    assert_names_the_secret(message, "jwk")
    assert "RSA" in message
    assert jwk["d"] not in message


def test_ec_pem_is_rejected_because_client_keys_are_rsa(ec_key: ec.EllipticCurvePrivateKey) -> None:
    text = pkcs8(ec_key)

    message = rejection({"key.pem": text, "kid": KID})

    assert_names_the_secret(message, "key.pem")
    assert "RSA" in message
    assert_holds_no(message, pem_body(text))


def _ec_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, object]:
    return dict(ECKey.import_key(pkcs8(key)).as_dict(private=True))


@pytest.mark.filterwarnings("ignore:Key size should be:Warning")
@pytest.mark.parametrize("size", [1024, 4096])
def test_rsa_key_of_another_size_than_2048_is_rejected_as_pem(
    request: pytest.FixtureRequest, size: int
) -> None:
    key: rsa.RSAPrivateKey = request.getfixturevalue(f"rsa_{size}")

    message = rejection({"key.pem": pkcs8(key), "kid": KID})

    assert_names_the_secret(message, "key.pem")
    assert f"{size}-bit" in message
    assert "only 2048-bit" in message
    assert_holds_no(message, secret_values(key))


@pytest.mark.filterwarnings("ignore:Key size should be:Warning")
@pytest.mark.parametrize("size", [1024, 4096])
def test_rsa_key_of_another_size_than_2048_is_rejected_as_jwk(
    request: pytest.FixtureRequest, size: int
) -> None:
    key: rsa.RSAPrivateKey = request.getfixturevalue(f"rsa_{size}")

    message = rejection({"jwk": json.dumps(private_jwk(key, kid=KID))})

    assert_names_the_secret(message, "jwk")
    assert f"{size}-bit" in message
    assert "only 2048-bit" in message
    assert_holds_no(message, secret_values(key))


@pytest.mark.parametrize("alg", ["PS256", "HS256", "none", "ES256"])
def test_jwk_with_an_algorithm_maskinporten_does_not_accept_is_rejected(
    rsa_2048: rsa.RSAPrivateKey, alg: str
) -> None:
    message = rejection({"jwk": json.dumps(private_jwk(rsa_2048, kid=KID, alg=alg))})

    assert_names_the_secret(message, "jwk")
    assert f"alg {alg}" in message
    assert "RS256, RS384, RS512" in message
    assert_holds_no(message, secret_values(rsa_2048))


@pytest.mark.parametrize("form", [pkcs1, pkcs8])
def test_pem_key_without_kid_is_rejected_with_a_hint_to_set_key_id(
    rsa_2048: rsa.RSAPrivateKey, form: PemForm
) -> None:
    text = form(rsa_2048)

    message = rejection({"key.pem": text})

    assert_names_the_secret(message, "key.pem")
    assert "spec.key.keyId" in message
    assert "'kid'" in message
    assert_holds_no(message, secret_values(rsa_2048))


def test_pem_key_with_a_blank_kid_is_rejected_with_a_hint_to_set_key_id(
    rsa_2048: rsa.RSAPrivateKey,
) -> None:
    message = rejection({"key.pem": pkcs8(rsa_2048), "kid": "  \n"})

    assert "spec.key.keyId" in message


def test_private_jwk_with_broken_members_is_rejected(rsa_2048: rsa.RSAPrivateKey) -> None:
    jwk = private_jwk(rsa_2048, kid=KID, n="not-base64url!!")

    message = rejection({"jwk": json.dumps(jwk)})

    assert_names_the_secret(message, "jwk")
    assert "not a valid RSA private JWK" in message
    assert_holds_no(message, secret_values(rsa_2048))


def test_unreadable_pem_is_rejected_without_echoing_it() -> None:
    text = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ1dC1icm9rZW4=\n-----END PRIVATE KEY-----\n"

    message = rejection({"key.pem": text, "kid": KID})

    assert_names_the_secret(message, "key.pem")
    assert "not a readable RSA private key" in message
    assert "c2VjcmV0LWJ1dC1icm9rZW4=" not in message
