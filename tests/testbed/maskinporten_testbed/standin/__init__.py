"""A strict Maskinporten stand-in: a real OAuth 2.0 authorization server for tests and demos.

It enforces the JWT grant rules of Digdir's Maskinporten (``docs/maskinporten-facts.md`` section
"The JWT grant"), answers errors as ``{"error", "error_description"}`` with the ``MP-xxx`` code
first in the description, issues RS256 access tokens verifiable at ``{issuer}jwk``, and takes
injected faults.

- in-process: ``async with MaskinportenStandin() as standin: ...``
- on a thread: ``with StandinThread() as standin: ...`` (synchronous, thread-safe)
- from another process: the admin API (``admin`` module) and
  ``python -m maskinporten_testbed.standin --port N``
"""

from .model import Client, Clock, FrozenClock, RegisteredKey, RequestRecord
from .server import MaskinportenStandin
from .threaded import StandinThread

__all__ = [
    "Client",
    "Clock",
    "FrozenClock",
    "MaskinportenStandin",
    "RegisteredKey",
    "RequestRecord",
    "StandinThread",
]
