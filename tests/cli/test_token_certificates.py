"""A business certificate that Maskinporten would refuse is refused before any request, with an
error that says what is wrong; one about to expire gets a token and a warning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import rsa

from maskinporten_testbed.standin import StandinThread
from maskinporten_testbed.testca import BusinessCertificate, CertificateAuthority

from .helpers import CERT_CLIENT, ORG, PASSWORD, Files, issued, run, token_args


def with_p12(standin: StandinThread, certificate: BusinessCertificate, tmp_path: Path) -> list[str]:
    p12 = tmp_path / "virksomhet.p12"
    p12.write_bytes(certificate.pkcs12(PASSWORD.encode()))
    return [*token_args(standin, CERT_CLIENT), "--p12", str(p12)]


def refusal(standin: StandinThread, args: list[str]) -> str:
    result = run(*args, env={"MASKINPORTEN_KEY_PASSWORD": PASSWORD})
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert standin.request_count() == 0
    return result.stderr


def test_expired_certificate(
    standin: StandinThread, ca: CertificateAuthority, tmp_path: Path
) -> None:
    expired_on = datetime.now(UTC) - timedelta(days=1)
    certificate = ca.issue(ORG, not_after=expired_on)

    message = refusal(standin, with_p12(standin, certificate, tmp_path))

    assert f"expired on {expired_on:%Y-%m-%d}" in message
    assert "order a new business certificate" in message


def test_not_yet_valid_certificate(
    standin: StandinThread, ca: CertificateAuthority, tmp_path: Path
) -> None:
    starts = datetime.now(UTC) + timedelta(days=1)
    certificate = ca.issue(ORG, not_before=starts, not_after=starts + timedelta(days=365))

    message = refusal(standin, with_p12(standin, certificate, tmp_path))

    assert f"is not valid until {starts:%Y-%m-%d}" in message


def test_certificate_without_digital_signature_usage(
    standin: StandinThread, ca: CertificateAuthority, tmp_path: Path
) -> None:
    certificate = ca.issue(ORG, digital_signature=False)

    message = refusal(standin, with_p12(standin, certificate, tmp_path))

    assert "is not meant for digital signatures" in message


def test_key_that_does_not_match_the_certificate(
    standin: StandinThread, files: Files, tmp_path: Path
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = tmp_path / "other.key"
    key.write_bytes(
        other.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    )
    args = [
        *token_args(standin, CERT_CLIENT),
        "--pem",
        str(key),
        "--cert",
        str(files.certificate_chain),
    ]

    message = refusal(standin, args)

    assert "the private key does not belong to any of the 2 certificates" in message


def test_certificate_expiring_within_30_days_gets_a_token_and_a_warning(
    standin: StandinThread, ca: CertificateAuthority, tmp_path: Path
) -> None:
    # Half a day from either whole day: the command reads the clock again in its own process.
    certificate = ca.issue(ORG, not_after=datetime.now(UTC) + timedelta(days=20, hours=12))

    result = run(
        *with_p12(standin, certificate, tmp_path), env={"MASKINPORTEN_KEY_PASSWORD": PASSWORD}
    )

    assert issued(result)["client_amr"] == "virksomhetssertifikat"
    assert "warning: the business certificate for TEST VIRKSOMHET AS" in result.stderr
    assert "(in 20 days): order a new one now" in result.stderr


def test_wrong_password_is_refused_without_showing_it(standin: StandinThread, files: Files) -> None:
    args = [*token_args(standin, CERT_CLIENT), "--p12", str(files.p12)]

    result = run(*args, env={"MASKINPORTEN_KEY_PASSWORD": "not-" + PASSWORD})

    assert result.returncode == 2
    assert "wrong password" in result.stderr
    assert PASSWORD not in result.stderr
