"""Setting up an organisation's self-service admin client ("selvbetjeningsklient") for tests.

Digdir hands an organisation an admin client on request; it authenticates with the
organisation's business certificate (an ``x5c`` grant), or with a key registered on it (a
``kid`` grant, as Altinn runs its admin clients), and its tokens carry the ``idporten:dcr.*``
scopes (``docs/maskinporten-facts.md``, "Self-service API").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography import x509

from maskinporten_testbed.standin.certs import org_number
from maskinporten_testbed.standin.model import Client, RegisteredKey
from maskinporten_testbed.testca import BusinessCertificate, CertificateAuthority

from .model import ADMIN_SCOPES


class Registrar(Protocol):
    """:class:`MaskinportenStandin` in-process, or :class:`StandinThread` from another thread."""

    def trust_ca(self, certificate: x509.Certificate) -> None: ...

    def register_client(self, client: Client) -> None: ...


@dataclass(frozen=True)
class AdminClient:
    """An organisation's admin client: its id and the business certificate it signs with."""

    client_id: str
    org: str
    certificate: BusinessCertificate

    def credential_pem(self) -> bytes:
        """The private key followed by the certificate chain (leaf first), all PEM: what an
        administrator would put in the operator's admin-credential Secret."""
        return self.certificate.private_key_pem() + self.certificate.chain_pem()


def provision_admin_client(
    standin: Registrar,
    ca: CertificateAuthority,
    org: str,
    *,
    client_id: str | None = None,
    certificate: BusinessCertificate | None = None,
    scopes: Iterable[str] = ADMIN_SCOPES,
) -> AdminClient:
    """Trust ``ca``, and register an admin client of ``org`` with ``scopes`` and no keys (so
    it must use ``x5c``); ``certificate`` (issued by ``ca`` to ``org``) saves generating one.

    Raises ValueError when ``certificate`` belongs to another organisation.
    """
    certificate = certificate or ca.issue(org)
    if org_number(certificate.certificate) != org:
        raise ValueError(f"the certificate does not belong to organisation {org}")
    standin.trust_ca(ca.root)
    admin = AdminClient(client_id or f"selfservice-admin-{org}", org, certificate)
    standin.register_client(Client(admin.client_id, org, frozenset(scopes)))
    return admin


def provision_jwk_admin_client(
    standin: Registrar,
    org: str,
    public_jwk: Mapping[str, Any],
    *,
    client_id: str | None = None,
    scopes: Iterable[str] = ADMIN_SCOPES,
) -> str:
    """Register an admin client of ``org`` with ``scopes`` that authenticates with the key
    ``public_jwk`` registered on it (grants carry its ``kid``); its client id."""
    admin_id = client_id or f"selfservice-jwk-admin-{org}"
    key = RegisteredKey(dict(public_jwk))
    standin.register_client(Client(admin_id, org, frozenset(scopes), keys=(key,)))
    return admin_id
