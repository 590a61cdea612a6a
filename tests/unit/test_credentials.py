"""Every credential people hold becomes a ClientKey; a certificate makes it sign with x5c.

Rejections name the credential and what to do, and never echo passwords or key material.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from joserfc.jwk import RSAKey
from joserfc.util import int_to_base64

from maskinporten_operator.api import KeyMode
from maskinporten_operator.credentials.certificates import CertificateError, thumbprint
from maskinporten_operator.credentials.jwk import load_jwk
from maskinporten_operator.credentials.keys import ClientKey, InvalidKeyError, PasswordError
from maskinporten_operator.credentials.pem import load_pem
from maskinporten_operator.credentials.pkcs12 import CONVERT_JKS, load_keystore, load_pkcs12
from maskinporten_testbed.testca import BusinessCertificate, CertificateAuthority
from tests.helpers import NOW, ORG

SOURCE = "credential file"
PASSWORD = b"correct horse battery staple"
KID = "billing-2026"


def pem(key: rsa.RSAPrivateKey, fmt: ser.PrivateFormat, password: bytes | None = None) -> bytes:
    encryption = ser.BestAvailableEncryption(password) if password else ser.NoEncryption()
    return key.private_bytes(ser.Encoding.PEM, fmt, encryption)


def secrets_of(key: rsa.RSAPrivateKey) -> list[str]:
    """Strings that must never appear in a message: the password and the private numbers."""
    numbers = key.private_numbers()
    return [PASSWORD.decode(), str(numbers.d), str(numbers.p), str(numbers.q)]


def assert_holds_no_secret(message: str, key: rsa.RSAPrivateKey) -> None:
    for secret in secrets_of(key):
        assert secret not in message


def same_key(loaded: ClientKey, key: rsa.RSAPrivateKey) -> bool:
    raw = loaded.key.raw_value
    return isinstance(raw, rsa.RSAPrivateKey) and raw.private_numbers() == key.private_numbers()


def der(certificate: BusinessCertificate) -> list[str]:
    return certificate.x5c()


# --- JWK ----------------------------------------------------------------------------------------


def test_jwk_signs_with_its_kid(client_key: ClientKey) -> None:
    loaded = load_jwk(client_key.private_jwk_json(), source=SOURCE)

    assert loaded.kid == client_key.kid
    assert loaded.certificate_chain == ()


def test_jwk_cannot_be_forced_to_x5c(client_key: ClientKey) -> None:
    with pytest.raises(InvalidKeyError) as caught:
        load_jwk(client_key.private_jwk_json(), source=SOURCE, mode=KeyMode.CERTIFICATE)

    assert "has no certificate" in str(caught.value)


# --- PEM ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt", [ser.PrivateFormat.TraditionalOpenSSL, ser.PrivateFormat.PKCS8], ids=["pkcs1", "pkcs8"]
)
def test_pem_key_is_read_in_both_forms(rsa_2048: rsa.RSAPrivateKey, fmt: ser.PrivateFormat) -> None:
    loaded = load_pem(pem(rsa_2048, fmt), source=SOURCE, now=NOW, key_id=KID)

    assert same_key(loaded, rsa_2048)
    assert loaded.kid == KID


@pytest.mark.parametrize(
    "fmt", [ser.PrivateFormat.TraditionalOpenSSL, ser.PrivateFormat.PKCS8], ids=["pkcs1", "pkcs8"]
)
def test_encrypted_pem_key_is_read_with_its_password(
    rsa_2048: rsa.RSAPrivateKey, fmt: ser.PrivateFormat
) -> None:
    loaded = load_pem(pem(rsa_2048, fmt, PASSWORD), source=SOURCE, now=NOW, password=PASSWORD)

    assert same_key(loaded, rsa_2048)


def test_pem_key_without_kid_is_known_by_its_thumbprint(rsa_2048: rsa.RSAPrivateKey) -> None:
    loaded = load_pem(pem(rsa_2048, ser.PrivateFormat.PKCS8), source=SOURCE, now=NOW)

    assert loaded.kid == loaded.key.thumbprint()


def test_password_for_an_unencrypted_pem_key_is_ignored(rsa_2048: rsa.RSAPrivateKey) -> None:
    data = pem(rsa_2048, ser.PrivateFormat.PKCS8)

    assert same_key(load_pem(data, source=SOURCE, now=NOW, password=PASSWORD), rsa_2048)


def test_encrypted_pem_key_without_password_asks_for_it(rsa_2048: rsa.RSAPrivateKey) -> None:
    with pytest.raises(PasswordError) as caught:
        load_pem(pem(rsa_2048, ser.PrivateFormat.PKCS8, PASSWORD), source=SOURCE, now=NOW)

    assert str(caught.value) == f"{SOURCE} is encrypted: give its password"


def test_wrong_pem_password_is_a_password_error_without_the_password(
    rsa_2048: rsa.RSAPrivateKey,
) -> None:
    data = pem(rsa_2048, ser.PrivateFormat.PKCS8, b"other password")

    with pytest.raises(PasswordError) as caught:
        load_pem(data, source=SOURCE, now=NOW, password=PASSWORD)

    assert "wrong password" in str(caught.value)
    assert_holds_no_secret(str(caught.value), rsa_2048)


def test_file_without_a_private_key_says_what_it_expected(
    business_certificate: BusinessCertificate,
) -> None:
    with pytest.raises(InvalidKeyError) as caught:
        load_pem(business_certificate.chain_pem(), source=SOURCE, now=NOW)

    assert "holds no PEM private key" in str(caught.value)


def test_ec_key_is_refused_as_not_rsa() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    data = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())

    with pytest.raises(InvalidKeyError) as caught:
        load_pem(data, source=SOURCE, now=NOW)

    assert "non-RSA" in str(caught.value)


# --- PEM key with certificates ------------------------------------------------------------------


def test_pem_key_with_its_chain_in_the_same_file_signs_with_x5c(
    business_certificate: BusinessCertificate,
) -> None:
    data = business_certificate.private_key_pem() + business_certificate.chain_pem()

    loaded = load_pem(data, source=SOURCE, now=NOW)

    assert list(loaded.certificate_chain) == der(business_certificate)
    assert loaded.kid == thumbprint(business_certificate.certificate)


def test_pem_key_with_its_chain_in_another_file_signs_with_x5c(
    business_certificate: BusinessCertificate,
) -> None:
    loaded = load_pem(
        business_certificate.private_key_pem(),
        source=SOURCE,
        now=NOW,
        chain=business_certificate.chain_pem(),
    )

    assert list(loaded.certificate_chain) == der(business_certificate)


def test_chain_given_root_first_is_sent_leaf_first(
    business_certificate: BusinessCertificate, ca: CertificateAuthority
) -> None:
    chain = ca.root_pem() + b"".join(
        c.public_bytes(ser.Encoding.PEM) for c in reversed(business_certificate.chain)
    )

    loaded = load_pem(business_certificate.private_key_pem(), source=SOURCE, now=NOW, chain=chain)

    assert list(loaded.certificate_chain) == [
        *der(business_certificate),
        base64.b64encode(ca.root.public_bytes(ser.Encoding.DER)).decode(),
    ]


def test_certificate_with_a_key_id_signs_with_that_kid(
    business_certificate: BusinessCertificate,
) -> None:
    data = business_certificate.private_key_pem() + business_certificate.chain_pem()

    loaded = load_pem(data, source=SOURCE, now=NOW, key_id=KID)

    assert (loaded.kid, loaded.certificate_chain) == (KID, ())


def test_certificate_forced_to_kid_mode_signs_with_the_key_thumbprint(
    business_certificate: BusinessCertificate,
) -> None:
    data = business_certificate.private_key_pem() + business_certificate.chain_pem()

    loaded = load_pem(data, source=SOURCE, now=NOW, mode=KeyMode.KEY_ID)

    assert (loaded.kid, loaded.certificate_chain) == (loaded.key.thumbprint(), ())


def test_key_without_certificate_cannot_be_forced_to_x5c(rsa_2048: rsa.RSAPrivateKey) -> None:
    with pytest.raises(InvalidKeyError) as caught:
        load_pem(
            pem(rsa_2048, ser.PrivateFormat.PKCS8), source=SOURCE, now=NOW, mode=KeyMode.CERTIFICATE
        )

    assert "holds no certificate" in str(caught.value)


def test_pem_key_with_someone_elses_certificate_is_a_mismatch(
    rsa_2048: rsa.RSAPrivateKey, business_certificate: BusinessCertificate
) -> None:
    data = pem(rsa_2048, ser.PrivateFormat.PKCS8) + business_certificate.certificate.public_bytes(
        ser.Encoding.PEM
    )

    with pytest.raises(CertificateError) as caught:
        load_pem(data, source=SOURCE, now=NOW)

    assert "does not belong to the certificate" in str(caught.value)
    assert_holds_no_secret(str(caught.value), rsa_2048)


def test_expired_certificate_is_refused_when_loaded(ca: CertificateAuthority) -> None:
    expired = ca.issue(ORG, not_after=datetime(2025, 1, 1, tzinfo=UTC))

    with pytest.raises(CertificateError) as caught:
        load_pem(expired.private_key_pem() + expired.chain_pem(), source=SOURCE, now=NOW)

    assert "expired on 2025-01-01" in str(caught.value)


def test_expired_certificate_does_not_matter_for_kid_mode(ca: CertificateAuthority) -> None:
    expired = ca.issue(ORG, not_after=datetime(2025, 1, 1, tzinfo=UTC))
    data = expired.private_key_pem() + expired.chain_pem()

    assert load_pem(data, source=SOURCE, now=NOW, key_id=KID).kid == KID


# --- PKCS#12 and keystores ----------------------------------------------------------------------


def test_pkcs12_signs_with_its_chain(business_certificate: BusinessCertificate) -> None:
    loaded = load_pkcs12(
        business_certificate.pkcs12(PASSWORD), source=SOURCE, now=NOW, password=PASSWORD
    )

    assert list(loaded.certificate_chain) == der(business_certificate)
    assert loaded.kid == thumbprint(business_certificate.certificate)


def test_pkcs12_with_a_wrong_password_says_so(business_certificate: BusinessCertificate) -> None:
    with pytest.raises(PasswordError) as caught:
        load_pkcs12(
            business_certificate.pkcs12(b"other"), source=SOURCE, now=NOW, password=PASSWORD
        )

    assert str(caught.value) == f"{SOURCE}: wrong password, or not a PKCS#12 file"


def test_pkcs12_without_a_password_asks_for_it(business_certificate: BusinessCertificate) -> None:
    with pytest.raises(PasswordError) as caught:
        load_pkcs12(business_certificate.pkcs12(PASSWORD), source=SOURCE, now=NOW, password=None)

    assert "give its password" in str(caught.value)


def test_pkcs12_alias_is_matched_without_regard_to_case(
    business_certificate: BusinessCertificate,
) -> None:
    data = business_certificate.pkcs12(PASSWORD, name=b"Virksomhet")

    loaded = load_pkcs12(data, source=SOURCE, now=NOW, password=PASSWORD, alias="virksomhet")

    assert loaded.certificate_chain


def test_pkcs12_without_the_alias_names_the_entry_it_has(
    business_certificate: BusinessCertificate,
) -> None:
    data = business_certificate.pkcs12(PASSWORD, name=b"virksomhet")

    with pytest.raises(InvalidKeyError) as caught:
        load_pkcs12(data, source=SOURCE, now=NOW, password=PASSWORD, alias="signing")

    assert "has no key entry 'signing' (its key entry is 'virksomhet'" in str(caught.value)


def test_pkcs12_with_certificates_only_says_it_has_no_key(
    business_certificate: BusinessCertificate,
) -> None:
    data = pkcs12.serialize_key_and_certificates(
        b"trust",
        None,
        business_certificate.certificate,
        None,
        ser.BestAvailableEncryption(PASSWORD),
    )

    with pytest.raises(InvalidKeyError) as caught:
        load_pkcs12(data, source=SOURCE, now=NOW, password=PASSWORD)

    assert "holds no private key" in str(caught.value)


def test_keystore_in_pkcs12_form_is_read_like_java_reads_it(
    business_certificate: BusinessCertificate,
) -> None:
    data = business_certificate.pkcs12(PASSWORD, name=b"virksomhet")

    loaded = load_keystore(data, source=SOURCE, now=NOW, password=PASSWORD, alias="virksomhet")

    assert list(loaded.certificate_chain) == der(business_certificate)


def test_keystore_falls_back_to_the_alias_password(
    business_certificate: BusinessCertificate,
) -> None:
    data = business_certificate.pkcs12(PASSWORD)

    loaded = load_keystore(
        data, source=SOURCE, now=NOW, password=b"store", alias=None, alias_password=PASSWORD
    )

    assert loaded.certificate_chain


def test_java_keystore_given_as_pkcs12_says_how_to_convert_it() -> None:
    with pytest.raises(InvalidKeyError) as caught:
        load_pkcs12(b"\xfe\xed\xfe\xed" + b"\x00" * 60, source=SOURCE, now=NOW, password=PASSWORD)

    assert CONVERT_JKS in str(caught.value)


@pytest.mark.parametrize(
    ("magic", "kind"), [(b"\xfe\xed\xfe\xed", "JKS"), (b"\xce\xce\xce\xce", "JCEKS")]
)
def test_java_only_keystore_says_how_to_convert_it(magic: bytes, kind: str) -> None:
    with pytest.raises(InvalidKeyError) as caught:
        load_keystore(magic + b"\x00" * 60, source=SOURCE, now=NOW, password=PASSWORD, alias="a")

    assert f"is a {kind} keystore" in str(caught.value)
    assert CONVERT_JKS in str(caught.value)


# --- consistency: keys are loaded without OpenSSL's primality tests; their numbers must agree --


def _jwk_members(key: rsa.RSAPrivateKey) -> dict[str, str]:
    return {k: str(v) for k, v in RSAKey.import_key(key).as_dict(private=True).items()}


def test_jwk_whose_private_exponent_is_another_keys_is_refused(
    rsa_2048: rsa.RSAPrivateKey,
) -> None:
    """Its signatures would not verify: OpenSSL falls back from the (broken) CRT members to d."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    members = _jwk_members(rsa_2048)
    mixed = {**members, "d": _jwk_members(other)["d"], "qi": _jwk_members(other)["qi"]}
    with pytest.raises(InvalidKeyError, match="not a consistent RSA private key") as raised:
        load_jwk(json.dumps(mixed), source=SOURCE)
    assert SOURCE in str(raised.value)
    assert_holds_no_secret(str(raised.value), rsa_2048)
    assert_holds_no_secret(str(raised.value), other)


@pytest.mark.parametrize("member", ["dp", "dq", "qi"])
def test_jwk_whose_crt_member_is_another_keys_is_refused(
    rsa_2048: rsa.RSAPrivateKey, member: str
) -> None:
    """As OpenSSL's full check would (the operator skips only its primality tests)."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    mixed = {**_jwk_members(rsa_2048), member: _jwk_members(other)[member]}
    with pytest.raises(InvalidKeyError, match="not a consistent RSA private key"):
        load_jwk(json.dumps(mixed), source=SOURCE)


def test_jwk_whose_modulus_is_another_keys_is_refused(rsa_2048: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    mixed = {**_jwk_members(rsa_2048), "n": _jwk_members(other)["n"]}
    with pytest.raises(InvalidKeyError, match="not a valid RSA private JWK"):
        load_jwk(json.dumps(mixed), source=SOURCE)


@pytest.mark.parametrize("multiple", [0, 1])
def test_jwk_with_any_valid_private_exponent_is_accepted(
    rsa_2048: rsa.RSAPrivateKey, multiple: int
) -> None:
    """RFC 8017 section 3.2: any d with e·d ≡ 1 (mod lcm(p-1, q-1)) will do; tools that compute
    d modulo (p-1)(q-1) give the smallest one plus a multiple of lcm(p-1, q-1)."""
    numbers = rsa_2048.private_numbers()
    p, q, e = numbers.p, numbers.q, numbers.public_numbers.e
    lcm = math.lcm(p - 1, q - 1)
    d = pow(e, -1, lcm) + multiple * lcm
    members = {**_jwk_members(rsa_2048), "d": int_to_base64(d)}
    signer = load_jwk(json.dumps(members), source=SOURCE).key.raw_value
    signature = signer.sign(b"grant", padding.PKCS1v15(), hashes.SHA256())
    rsa_2048.public_key().verify(signature, b"grant", padding.PKCS1v15(), hashes.SHA256())


def _der_integer(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    length = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return (
        b"\x02"
        + (bytes([len(body)]) if len(body) < 128 else bytes([0x80 | len(length)]) + length)
        + body
    )


def test_pem_key_with_a_trivial_factor_is_refused(rsa_2048: rsa.RSAPrivateKey) -> None:
    """p = 1, q = n: the PEM loader (primality tests skipped) takes it; the check must refuse it
    with the usual error, not fail on a division by zero."""
    numbers = rsa_2048.private_numbers()
    n, e, d = numbers.public_numbers.n, numbers.public_numbers.e, numbers.d
    members = (0, n, e, d, 1, n, 0, d % (n - 1), 0)
    content = b"".join(_der_integer(member) for member in members)
    length = len(content).to_bytes(2, "big")
    der = b"\x30\x82" + length + content
    text = base64.encodebytes(der).decode()
    key = f"-----BEGIN RSA PRIVATE KEY-----\n{text}-----END RSA PRIVATE KEY-----\n"
    with pytest.raises(InvalidKeyError, match="not a consistent RSA private key"):
        load_pem(key.encode(), source=SOURCE, now=NOW)


def test_jwk_without_crt_members_is_read_from_n_e_d(rsa_2048: rsa.RSAPrivateKey) -> None:
    members = _jwk_members(rsa_2048)
    minimal = {k: members[k] for k in ("kty", "n", "e", "d")}
    assert same_key(load_jwk(json.dumps(minimal), source=SOURCE), rsa_2048)


def test_pem_key_whose_private_exponent_is_another_keys_is_refused(
    rsa_2048: rsa.RSAPrivateKey,
) -> None:
    numbers = rsa_2048.private_numbers()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers()
    broken = rsa.RSAPrivateNumbers(
        numbers.p,
        numbers.q,
        other.d,
        numbers.dmp1,
        numbers.dmq1,
        numbers.iqmp ^ 2,
        numbers.public_numbers,
    ).private_key(unsafe_skip_rsa_key_validation=True)
    with pytest.raises(InvalidKeyError, match="not a consistent RSA private key"):
        load_pem(pem(broken, ser.PrivateFormat.PKCS8), source=SOURCE, now=NOW)
