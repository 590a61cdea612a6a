"""Which key a Secret's data yields, by data key, mode and password."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import rsa

from maskinporten_operator.api import KeyMode, KeySpec
from maskinporten_operator.credentials.keys import (
    InvalidKeyError,
    PasswordError,
    generate_client_key,
)
from maskinporten_operator.credentials.secret_data import MissingDataError, password_in, read_key
from maskinporten_testbed.testca import BusinessCertificate
from tests.helpers import NOW

PASSWORD = b"correct horse battery staple"


def pem(key: rsa.RSAPrivateKey, password: bytes | None = None) -> bytes:
    encryption = ser.BestAvailableEncryption(password) if password else ser.NoEncryption()
    return key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, encryption)


def test_named_keystore_entry_that_is_absent_is_a_clear_error() -> None:
    data = {"jwk": generate_client_key().private_jwk_json().encode()}

    with pytest.raises(InvalidKeyError, match=r"no key under keystore\.p12"):
        read_key(
            data, KeySpec(secret_key="keystore.p12"), source="Secret s", password=None, now=NOW
        )


def test_keystore_sent_by_key_id_uses_the_secrets_kid_entry(
    business_certificate: BusinessCertificate,
) -> None:
    data = {"keystore.p12": business_certificate.pkcs12(b"pw"), "kid": b"registered-kid"}

    key = read_key(data, KeySpec(mode=KeyMode.KEY_ID), source="Secret s", password=b"pw", now=NOW)

    assert key.kid == "registered-kid"
    assert key.certificate_chain == ()


def test_key_id_mode_without_a_key_id_is_a_clear_error(
    business_certificate: BusinessCertificate,
) -> None:
    data = {"keystore.p12": business_certificate.pkcs12(b"pw")}

    with pytest.raises(InvalidKeyError, match=r"set spec\.key\.keyId"):
        read_key(data, KeySpec(mode=KeyMode.KEY_ID), source="Secret s", password=b"pw", now=NOW)


def test_certificate_mode_prefers_the_keystore_over_a_jwk_in_the_same_secret(
    business_certificate: BusinessCertificate,
) -> None:
    data = {
        "jwk": generate_client_key().private_jwk_json().encode(),
        "keystore.p12": business_certificate.pkcs12(b"pw"),
    }

    key = read_key(
        data, KeySpec(mode=KeyMode.CERTIFICATE), source="Secret s", password=b"pw", now=NOW
    )

    assert key.certificate_chain


def test_java_keystore_is_refused_with_the_keytool_conversion_command() -> None:
    data = {"keystore.jks": b"\xfe\xed\xfe\xed" + b"\x00" * 60}

    with pytest.raises(InvalidKeyError, match="keytool -importkeystore"):
        read_key(
            data, KeySpec(secret_key="keystore.jks"), source="Secret s", password=None, now=NOW
        )


def test_certificate_mode_with_only_a_jwk_is_refused_for_lack_of_a_certificate() -> None:
    data = {"jwk": generate_client_key().private_jwk_json().encode()}

    with pytest.raises(InvalidKeyError, match="x5c grants need a business certificate"):
        read_key(data, KeySpec(mode=KeyMode.CERTIFICATE), source="Secret s", password=None, now=NOW)


def test_jwk_takes_its_kid_from_the_secrets_kid_entry_when_it_has_none() -> None:
    jwk = json.loads(generate_client_key().private_jwk_json())
    del jwk["kid"]
    data = {"jwk": json.dumps(jwk).encode(), "kid": b"registered-kid"}

    key = read_key(data, KeySpec(), source="Secret s", password=None, now=NOW)

    assert key.kid == "registered-kid"


def test_password_is_read_without_its_trailing_line_break() -> None:
    assert password_in({"password": b"pw\r\n"}, "password", where="Secret p") == b"pw"


def test_missing_password_key_is_named_not_read_as_an_empty_password() -> None:
    with pytest.raises(MissingDataError, match=r"Secret p has no key 'password' \(.*'pass'"):
        password_in({"pass": b"pw"}, "password", where="Secret p")


def test_encrypted_pem_key_is_read_with_the_password_given(rsa_2048: rsa.RSAPrivateKey) -> None:
    data = {"key.pem": pem(rsa_2048, PASSWORD), "kid": b"registered-kid"}

    key = read_key(data, KeySpec(), source="Secret s", password=PASSWORD, now=NOW)

    assert key.kid == "registered-kid"


def test_wrong_password_points_at_spec_key_password_secret_ref(
    business_certificate: BusinessCertificate,
) -> None:
    data = {"keystore.p12": business_certificate.pkcs12(PASSWORD)}

    with pytest.raises(PasswordError) as caught:
        read_key(data, KeySpec(), source="Secret s", password=b"guess", now=NOW)

    assert "wrong password" in str(caught.value)
    assert "spec.key.passwordSecretRef" in str(caught.value)
    assert "guess" not in str(caught.value)


def test_pem_key_with_its_chain_under_tls_crt_signs_with_x5c(
    business_certificate: BusinessCertificate,
) -> None:
    data = {
        "tls.key": business_certificate.private_key_pem(),
        "tls.crt": business_certificate.chain_pem(),
    }

    key = read_key(data, KeySpec(), source="Secret s", password=None, now=NOW)

    assert list(key.certificate_chain) == business_certificate.x5c()


def test_pem_key_after_other_text_is_read_as_pem(rsa_2048: rsa.RSAPrivateKey) -> None:
    text_before = b"Bag Attributes\n    localKeyId: 01\n"
    data = {"key.pem": text_before + pem(rsa_2048), "kid": b"registered-kid"}

    key = read_key(data, KeySpec(), source="Secret s", password=None, now=NOW)

    assert key.kid == "registered-kid"


def test_pem_key_under_a_jwk_data_key_is_read_as_pem(rsa_2048: rsa.RSAPrivateKey) -> None:
    data = {"jwk": pem(rsa_2048), "kid": b"registered-kid"}

    key = read_key(data, KeySpec(), source="Secret s", password=None, now=NOW)

    assert key.kid == "registered-kid"
