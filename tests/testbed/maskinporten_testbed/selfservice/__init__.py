"""A strict stand-in for Digdir's self-service API (``/api/v1/``), beside the Maskinporten one.

It shares the Maskinporten stand-in's registry and clock: clients and keys registered through
it are what the token endpoint accepts, after a configurable propagation delay. Rules, routes
and errors: :mod:`.server` and :mod:`.rules`; source: ``docs/maskinporten-facts.md`` section
"Self-service API".

- in-process: ``async with SelfServiceStandin(maskinporten) as api: ...`` (same loop)
- on a thread: ``with SelfServiceThread(standin_thread) as api: ...``
- an organisation's admin client: :func:`provision_admin_client` (business certificate),
  :func:`provision_jwk_admin_client` (a key registered on it)
"""

from .adminclient import AdminClient, provision_admin_client, provision_jwk_admin_client
from .model import (
    ADMIN_SCOPES,
    DCR_MODIFY,
    DCR_READ,
    DCR_WRITE,
    KEY_LIFETIME_SECONDS,
    ApiRequestRecord,
    ScopeAccess,
)
from .server import SelfServiceStandin
from .threaded import SelfServiceThread

__all__ = [
    "ADMIN_SCOPES",
    "DCR_MODIFY",
    "DCR_READ",
    "DCR_WRITE",
    "KEY_LIFETIME_SECONDS",
    "AdminClient",
    "ApiRequestRecord",
    "ScopeAccess",
    "SelfServiceStandin",
    "SelfServiceThread",
    "provision_admin_client",
    "provision_jwk_admin_client",
]
