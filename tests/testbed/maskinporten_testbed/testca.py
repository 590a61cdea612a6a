"""A tiny certificate authority issuing test "business certificates" (virksomhetssertifikat).

The chain mirrors the real ones: a self-signed root, an intermediate, and an RSA 2048 leaf whose
subject carries the organisation number both as ``organizationIdentifier`` (``NTRNO-<orgno>``)
and as ``serialNumber``. For tests and demos only.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from .standin.model import ORG_NUMBER


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf_usage(digital_signature: bool) -> x509.KeyUsage:
    """Signing usage, or else non-repudiation only (the other half of a real certificate pair)."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=not digital_signature,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True)
class BusinessCertificate:
    """A leaf certificate with its private key and the intermediates up to (not incl.) the root."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    intermediates: tuple[x509.Certificate, ...]

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Leaf first, as in a JWS ``x5c`` header."""
        return (self.certificate, *self.intermediates)

    def chain_pem(self) -> bytes:
        return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in self.chain)

    def chain_der(self) -> list[bytes]:
        return [cert.public_bytes(serialization.Encoding.DER) for cert in self.chain]

    def x5c(self) -> list[str]:
        """The chain as standard (not URL-safe) base64 DER strings, per RFC 7515 section 4.1.6."""
        return [base64.b64encode(der).decode("ascii") for der in self.chain_der()]

    def private_key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def pkcs12(self, password: bytes, name: bytes = b"virksomhetssertifikat") -> bytes:
        return pkcs12.serialize_key_and_certificates(
            name,
            self.private_key,
            self.certificate,
            list(self.intermediates),
            serialization.BestAvailableEncryption(password),
        )


class CertificateAuthority:
    """Root and intermediate CA; ``root`` is what a verifier must trust.

    ``now`` is the instant it issues certificates at (their default validity is around it),
    for tests that check certificates at a frozen instant; the wall clock at each issue if None.
    """

    def __init__(self, name: str = "Maskinporten Testbed", *, now: datetime | None = None) -> None:
        self._now = now
        self._root_key = _new_key()
        root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} Root CA")])
        self.root = self._ca_certificate(root_name, root_name, self._root_key, path_length=1)
        self._intermediate_key = _new_key()
        issuing_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} Issuing CA")])
        self.intermediate = self._ca_certificate(
            issuing_name, root_name, self._intermediate_key, path_length=0
        )

    def _ca_certificate(
        self,
        subject: x509.Name,
        issuer: x509.Name,
        key: rsa.RSAPrivateKey,
        *,
        path_length: int,
    ) -> x509.Certificate:
        """A CA certificate valid for ten years, signed by the root key."""
        now = self._issuing_time()
        return self._sign(
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(_ca_usage(), critical=True),
            self._root_key,
            now - timedelta(days=1),
            now + timedelta(days=3650),
        )

    def _issuing_time(self) -> datetime:
        return self._now or datetime.now(UTC)

    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        org_number: str,
        *,
        organization: str = "TEST VIRKSOMHET AS",
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        digital_signature: bool = True,
    ) -> BusinessCertificate:
        """Issue a leaf; pass past ``not_after`` / future ``not_before`` for invalid ones."""
        if not ORG_NUMBER.fullmatch(org_number):
            raise ValueError("an organisation number has 9 digits")
        now = self._issuing_time()
        not_after = not_after or now + timedelta(days=365)
        not_before = not_before or min(now - timedelta(hours=1), not_after - timedelta(days=365))
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRNO-{org_number}"),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, org_number),
                x509.NameAttribute(NameOID.COMMON_NAME, organization),
            ]
        )
        usage = _leaf_usage(digital_signature)
        return self._issue_leaf(subject, [(usage, True)], validity=(not_before, not_after))

    def issue_server(self, ip_address: str = "127.0.0.1") -> BusinessCertificate:
        """A TLS server certificate for ``ip_address``, valid for a day around now: the same
        leaf, key and intermediates as a business certificate, for an https test server that
        clients trust through ``root_pem``."""
        return self.issue_tls(ip_address, ip_addresses=(ip_address,))

    def issue_tls(
        self,
        common_name: str,
        *,
        organizations: Sequence[str] = (),
        dns_names: Sequence[str] = (),
        ip_addresses: Sequence[str] = (),
        usage: x509.ObjectIdentifier | None = None,
        lifetime: timedelta = timedelta(days=1),
    ) -> BusinessCertificate:
        """A TLS certificate for ``common_name`` (the groups of a Kubernetes client in
        ``organizations``), with the names given as subject alternative names and ``usage`` as
        its extended key usage, valid from an hour ago for ``lifetime``."""
        now = self._issuing_time()
        subject = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
            + [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        )
        extensions: list[tuple[x509.ExtensionType, bool]] = []
        if usage is not None:
            extensions.append((x509.ExtendedKeyUsage([usage]), False))
        names = [x509.DNSName(name) for name in dns_names] + [
            x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses
        ]
        if names:
            extensions.append((x509.SubjectAlternativeName(names), False))
        validity = (now - timedelta(hours=1), now + lifetime)
        return self._issue_leaf(subject, extensions, validity=validity)

    def _issue_leaf(
        self,
        subject: x509.Name,
        extensions: Sequence[tuple[x509.ExtensionType, bool]],
        *,
        validity: tuple[datetime, datetime],
    ) -> BusinessCertificate:
        """A new key and its end-entity certificate with ``extensions`` (each with whether it
        is critical), from the intermediate."""
        key = _new_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.intermediate.subject)
            .public_key(key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        certificate = self._sign(builder, self._intermediate_key, *validity)
        return BusinessCertificate(key, certificate, (self.intermediate,))

    @staticmethod
    def _sign(
        builder: x509.CertificateBuilder,
        issuer_key: rsa.RSAPrivateKey,
        not_before: datetime,
        not_after: datetime,
    ) -> x509.Certificate:
        return (
            builder.serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .sign(issuer_key, hashes.SHA256())
        )
