"""Which key a Secret's data yields, by data key, mode and password."""

from __future__ import annotations

import pytest

from maskinporten_operator.api import KeyMode, KeySpec
from maskinporten_operator.credentials.keys import InvalidKeyError, generate_client_key
from maskinporten_operator.reconcile.keysupply import read_key
from maskinporten_testbed.testca import CertificateAuthority

from .helpers import NOW

ORG = "991825827"


def test_named_keystore_entry_that_is_absent_is_a_clear_error() -> None:
    data = {"jwk": generate_client_key().private_jwk_json().encode()}

    with pytest.raises(InvalidKeyError, match=r"no key under keystore\.p12"):
        read_key(
            data, KeySpec(secret_key="keystore.p12"), source="Secret s", password=None, now=NOW
        )


def test_keystore_sent_by_key_id_uses_the_secrets_kid_entry() -> None:
    certificate = CertificateAuthority(now=NOW).issue(ORG)
    data = {"keystore.p12": certificate.pkcs12(b"pw"), "kid": b"registered-kid"}

    key = read_key(data, KeySpec(mode=KeyMode.KEY_ID), source="Secret s", password=b"pw", now=NOW)

    assert key.kid == "registered-kid"
    assert key.certificate_chain == ()


def test_key_id_mode_without_a_key_id_is_a_clear_error() -> None:
    certificate = CertificateAuthority(now=NOW).issue(ORG)
    data = {"keystore.p12": certificate.pkcs12(b"pw")}

    with pytest.raises(InvalidKeyError, match=r"set spec\.key\.keyId"):
        read_key(data, KeySpec(mode=KeyMode.KEY_ID), source="Secret s", password=b"pw", now=NOW)


def test_certificate_mode_prefers_the_keystore_over_a_jwk_in_the_same_secret() -> None:
    certificate = CertificateAuthority(now=NOW).issue(ORG)
    data = {
        "jwk": generate_client_key().private_jwk_json().encode(),
        "keystore.p12": certificate.pkcs12(b"pw"),
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
