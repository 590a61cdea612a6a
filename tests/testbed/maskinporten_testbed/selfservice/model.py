"""What the self-service API stand-in knows beyond the Maskinporten registry, and its errors.

Source: Digdir's documentation of the self-service API ("Selvbetjening via API") and of client
registration, as summarised in ``docs/maskinporten-facts.md`` section "Self-service API".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from maskinporten_testbed.standin.model import GRANT_TYPE

BASE_PATH = "/api/v1/"
DCR_READ = "idporten:dcr.read"
"""Read the organisation's clients (every GET)."""
DCR_WRITE = "idporten:dcr.write"
"""Create clients (``POST /clients``)."""
DCR_MODIFY = "idporten:dcr.modify"
"""Change clients: ``PUT`` and ``DELETE /clients/{id}``, ``POST /clients/{id}/jwks``."""
ADMIN_SCOPES = (DCR_READ, DCR_WRITE, DCR_MODIFY)
CERTIFICATE_AMR = "virksomhetssertifikat"
"""``client_amr`` of a token from a business-certificate (``x5c``) grant."""
KEY_AMR = "private_key_jwt"
"""``client_amr`` of a token from a grant signed with a key registered on the client (``kid``)."""
ADMIN_AMRS = (CERTIFICATE_AMR, KEY_AMR)
"""How an admin client may authenticate: a business certificate, or a key registered on it, as
Altinn runs its admin clients (``docs/maskinporten-facts.md``, "Self-service API")."""
INTEGRATION_TYPE = "maskinporten"
APPLICATION_TYPE = "web"
AUTH_METHOD = "private_key_jwt"
GRANT_TYPES = (GRANT_TYPE,)
KEY_LIFETIME_SECONDS = 365 * 24 * 3600
"""A registered key expires one year after it was posted."""
MAX_KEYS = 5
DEFAULT_ACCESS_TOKEN_LIFETIME = 120
"""A client's ``access_token_lifetime`` (seconds) when the model leaves it out: Maskinporten's
default (``docs/maskinporten-facts.md``, "The JWT grant", Response)."""
ACCESS_TOKEN_LIFETIME_RANGE = range(1, 7201)
"""The ``access_token_lifetime`` values accepted: at most 7200 s (``docs/maskinporten-facts.md``,
"Self-service API")."""
APPROVED = "APPROVED"
DEFAULT_SCOPE_OWNER = "991825827"
"""Digdir's organisation number, owner of scopes set up without one."""


class ApiError(Exception):
    """A refused request: HTTP ``status`` with ``{"error", "error_description"}``.

    Descriptions name what is wrong (field, scope, ``kid``), never a token or key material.
    """

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def invalid_metadata(description: str) -> ApiError:
    """RFC 7591 section 3.2.2: a client metadata value (scopes and keys included) is invalid."""
    return ApiError(400, "invalid_client_metadata", description)


def invalid_request(description: str) -> ApiError:
    return ApiError(400, "invalid_request", description)


def not_found(client_id: str) -> ApiError:
    return ApiError(404, "not_found", f"No client {client_id} in your organisation")


@dataclass(frozen=True)
class ClientRecord:
    """A client's self-service metadata; its org, scopes and keys live in the registry.

    Times are the server clock (epoch seconds); ``jwks_*`` are None until keys are posted.
    """

    client_name: str
    description: str
    integration_type: str
    application_type: str
    token_endpoint_auth_method: str
    grant_types: tuple[str, ...]
    created: float
    last_updated: float
    jwks_created: float | None = None
    jwks_last_updated: float | None = None


@dataclass(frozen=True)
class ScopeAccess:
    """An organisation's access to a scope, as ``GET /scopes/access/all`` lists it.

    ``state`` is ``APPROVED``, ``REQUESTED`` or ``DENIED``; only approved (and public) scopes
    may be put on a client.
    """

    scope: str
    consumer_org: str
    owner_org: str
    state: str
    accessible_for_all: bool = False

    def document(self) -> dict[str, object]:
        return {
            "scope": self.scope,
            "consumer_orgno": self.consumer_org,
            "owner_orgno": self.owner_org,
            "state": self.state,
            "accessible_for_all": self.accessible_for_all,
        }


@dataclass(frozen=True)
class Caller:
    """Who an accepted bearer token speaks for: the admin client and its organisation."""

    client_id: str
    org: str


@dataclass(frozen=True)
class ApiRequestRecord:
    """One call to the self-service API: never a token or a body, only who, what, when."""

    at: float
    method: str
    path: str
    org: str | None
    status: int
    outcome: str


def timestamp(epoch_seconds: float) -> str:
    """ISO 8601 UTC with milliseconds, e.g. ``2026-11-21T10:15:00.000Z``."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
