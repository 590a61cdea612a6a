"""Watch bodies as kept for as long as their object lives: the latest MaskinportenClient of each
loop (:mod:`maskinporten_operator.runtime.supervisor`) and the watched Secrets
(:mod:`.watched_secrets`).

``json.loads`` makes new strings for every document it parses, so each kept body would hold its
own copy of every key (``metadata``, ``lastTransitionTime``, ...) and of every value that all
bodies repeat (``True``, ``Ready``, the API version, the namespace, the base64 of the token
endpoint in every workload Secret). Interned, each is one string for all of them: a client's
body with its status costs ~10 KiB as parsed, ~4 KiB less interned.
"""

from __future__ import annotations

import sys
from typing import Any

INTERNED_MAX_LENGTH = 64
"""By default, strings up to this length are interned: names, reasons, times, uids; not
messages or public JWKs, which no two bodies share. (An interned string that no other body
shares costs a slot in the interpreter's table of interned strings, ~40 bytes.)"""


def interned(value: Any, max_length: int = INTERNED_MAX_LENGTH) -> Any:
    """``value`` (parsed JSON) rebuilt with every object key and every string of at most
    ``max_length`` characters interned; numbers, booleans and null as they are."""
    if isinstance(value, dict):
        return {sys.intern(key): interned(item, max_length) for key, item in value.items()}
    if isinstance(value, list):
        return [interned(item, max_length) for item in value]
    if isinstance(value, str) and len(value) <= max_length:
        return sys.intern(value)
    return value
