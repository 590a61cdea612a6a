"""``token --ca-bundle``: an issuer over https whose certificate comes from a private CA (or a
TLS-inspecting proxy's) is reached with the CA's certificates, and refused without them.

The issuer is the test bed's small https server, on the stand-in's event loop, with a
certificate for 127.0.0.1 from the tests' CA; it answers every token request with one token.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from maskinporten_testbed.httpsissuer import HttpsIssuer
from maskinporten_testbed.standin import StandinThread
from maskinporten_testbed.testca import CertificateAuthority

from .helpers import KID_CLIENT, SCOPE, Files, run

BAD_BUNDLE_HINT = "give a PEM file of the CA certificates to trust"


@pytest.fixture(scope="module")
def https_server(standin: StandinThread, ca: CertificateAuthority) -> Iterator[HttpsIssuer]:
    server = HttpsIssuer(ca)
    standin.run(server.start())
    yield server
    standin.run(server.stop())


@pytest.fixture(scope="module")
def https_issuer(https_server: HttpsIssuer) -> str:
    return https_server.issuer


@pytest.fixture(scope="module")
def ca_bundle(ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle = tmp_path_factory.mktemp("private-ca") / "ca.pem"
    bundle.write_bytes(ca.root_pem())
    return bundle


def token_args(issuer: str, files: Files) -> list[str]:
    return [
        "token", "--client-id", KID_CLIENT, "--scope", SCOPE, "--issuer", issuer, "--jwk", files.jwk
    ]  # fmt: skip


def test_issuer_with_a_private_ca_gives_a_token_with_the_ca_bundle(
    https_server: HttpsIssuer, ca_bundle: Path, files: Files
) -> None:
    result = run(*token_args(https_server.issuer, files), "--ca-bundle", ca_bundle)

    assert result.returncode == 0, result.stderr
    assert result.stdout == https_server.access_token + "\n"


def test_issuer_with_a_private_ca_is_unreachable_without_the_ca_bundle(
    https_issuer: str, files: Files
) -> None:
    result = run(*token_args(https_issuer, files))

    assert result.returncode == 3
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr
    assert "hint: the server's certificate is not trusted" in result.stderr
    assert "--ca-bundle FILE" in result.stderr


def test_operator_ca_bundle_setting_is_not_used_without_from_cluster(
    https_issuer: str, ca_bundle: Path, files: Files
) -> None:
    result = run(
        *token_args(https_issuer, files),
        env={"MASKINPORTEN_OPERATOR_CA_BUNDLE": str(ca_bundle)},
    )

    assert result.returncode == 3
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr


def test_missing_ca_bundle_is_a_usage_error_naming_the_file(
    https_issuer: str, files: Files, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.pem"

    result = run(*token_args(https_issuer, files), "--ca-bundle", missing)

    assert result.returncode == 2
    assert f"error: --ca-bundle: {missing} does not exist" in result.stderr
    assert BAD_BUNDLE_HINT in result.stderr
    assert "Traceback" not in result.stderr


def test_ca_bundle_without_a_certificate_is_a_usage_error(
    https_issuer: str, files: Files, tmp_path: Path
) -> None:
    not_pem = tmp_path / "ca.der"
    not_pem.write_bytes(b"not a certificate")

    result = run(*token_args(https_issuer, files), "--ca-bundle", not_pem)

    assert result.returncode == 2
    assert f"error: --ca-bundle: {not_pem} holds no PEM certificate" in result.stderr
    assert BAD_BUNDLE_HINT in result.stderr
    assert "Traceback" not in result.stderr


def test_unreadable_ca_bundle_is_a_usage_error(
    https_issuer: str, files: Files, tmp_path: Path
) -> None:
    result = run(*token_args(https_issuer, files), "--ca-bundle", tmp_path)

    assert result.returncode == 2
    assert f"error: --ca-bundle: {tmp_path} cannot be read" in result.stderr
    assert "Traceback" not in result.stderr
