"""Business certificates ("virksomhetssertifikat") as client credentials: x5c grants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import Client, StandinThread
from maskinporten_testbed.testca import BusinessCertificate, CertificateAuthority
from tests.helpers import decode_jwt

from .helpers import ORG, SCOPE, Cluster

PASSWORD = b"correct horse"


@pytest.fixture(scope="module", autouse=True)
def _stand_in_trusts_the_test_ca(standin: StandinThread, ca: CertificateAuthority) -> None:
    standin.trust_ca(ca.root)


def _certificate_client(cluster: Cluster, standin: StandinThread, name: str) -> str:
    """A client that authenticates with the organisation's certificate (no registered keys)."""
    client_id = f"{cluster.namespace}-{name}"
    standin.register_client(Client(client_id=client_id, org=ORG, scopes=frozenset({SCOPE})))
    return client_id


def _spec(client_id: str, key: dict[str, object]) -> dict[str, object]:
    return {
        "clientId": client_id,
        "scopes": {"consumes": [{"name": SCOPE}]},
        "key": {"source": "Existing", "secretName": "certificate", **key},
    }


def _keystore(cluster: Cluster, certificate: BusinessCertificate) -> None:
    cluster.put_binary_secret(
        "certificate",
        {"keystore.p12": certificate.pkcs12(PASSWORD), "password": PASSWORD + b"\n"},
    )


def test_pkcs12_keystore_with_password_gets_a_token_by_x5c(
    cluster: Cluster, standin: StandinThread, ca: CertificateAuthority
) -> None:
    client_id = _certificate_client(cluster, standin, "p12")
    _keystore(cluster, ca.issue(ORG))
    cluster.create_client("p12", _spec(client_id, {"passwordSecretRef": {"name": "certificate"}}))
    cluster.wait_condition("p12", status="True")
    token = cluster.secret_data("p12-maskinporten")["MASKINPORTEN_ACCESS_TOKEN"]
    assert decode_jwt(token).claims["client_id"] == client_id
    assert cluster.get_client("p12")["status"]["certificateNotAfter"].endswith("Z")


def test_tls_secret_with_certificate_chain_gets_a_token_by_x5c(
    cluster: Cluster, standin: StandinThread, ca: CertificateAuthority
) -> None:
    client_id = _certificate_client(cluster, standin, "tls")
    certificate = ca.issue(ORG)
    cluster.put_binary_secret(
        "certificate",
        {"tls.key": certificate.private_key_pem(), "tls.crt": certificate.chain_pem()},
    )
    cluster.create_client("tls", _spec(client_id, {}))
    cluster.wait_condition("tls", status="True")


def test_wrong_keystore_password_is_reported(
    cluster: Cluster, standin: StandinThread, ca: CertificateAuthority
) -> None:
    _keystore(cluster, ca.issue(ORG))
    cluster.put_secret("wrong", {"password": "guess"})
    cluster.create_client("wrongpw", _spec("x", {"passwordSecretRef": {"name": "wrong"}}))
    ready = cluster.wait_condition("wrongpw", status="False", reason="KeyInvalid")
    assert "wrong password" in ready["message"]
    assert "guess" not in ready["message"]


def test_expired_certificate_is_reported_before_any_token_request(
    cluster: Cluster, standin: StandinThread, ca: CertificateAuthority
) -> None:
    client_id = _certificate_client(cluster, standin, "expired")
    _keystore(cluster, ca.issue(ORG, not_after=datetime.now(UTC) - timedelta(days=1)))
    cluster.create_client(
        "expired", _spec(client_id, {"passwordSecretRef": {"name": "certificate"}})
    )
    ready = cluster.wait_condition("expired", status="False", reason="KeyInvalid")
    assert "expired" in ready["message"]
    assert standin.request_count(client_id) == 0


def test_certificate_expiring_within_30_days_is_warned_about(
    cluster: Cluster, standin: StandinThread, ca: CertificateAuthority
) -> None:
    client_id = _certificate_client(cluster, standin, "expiring")
    _keystore(cluster, ca.issue(ORG, not_after=datetime.now(UTC) + timedelta(days=10)))
    cluster.create_client(
        "expiring", _spec(client_id, {"passwordSecretRef": {"name": "certificate"}})
    )
    cluster.wait_condition("expiring", status="True")
    assert "order a new one" in cluster.get_client("expiring")["status"]["certificateWarning"]
    eventually(
        lambda: any(
            (e["involvedObject"]["name"], e["reason"]) == ("expiring", "CertificateExpiring")
            for e in cluster.events()
        ),
        what="a CertificateExpiring event",
    )
