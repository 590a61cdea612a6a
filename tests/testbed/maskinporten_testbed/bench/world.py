"""The benchmark's clients: names, scopes and keys (generated once, cached)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from maskinporten_operator.credentials.keys import generate_client_key
from maskinporten_testbed import binaries
from maskinporten_testbed.standin import Client, RegisteredKey, StandinThread

APPLY_SCOPE = "bench:apply"
STEADY_SCOPE = "bench:steady"
ORG = "991825827"
READY_TIMEOUT = 1800.0


def _new_key(_: int) -> str:
    return generate_client_key().private_jwk_json()


def bench_keys(count: int) -> list[str]:
    """``count`` distinct private JWKs, generated once (~75 ms of CPU each) and cached."""
    directory = binaries.cache_root() / "bench-keys"
    directory.mkdir(parents=True, exist_ok=True)
    have = sorted(directory.glob("*.json"))
    if len(have) < count:
        print(f"[bench] generating {count - len(have)} RSA keys (cached for later runs)")
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for index, jwk in enumerate(pool.map(_new_key, range(len(have), count), chunksize=16)):
                (directory / f"{len(have) + index:06d}.json").write_text(jwk)
        have = sorted(directory.glob("*.json"))
    return [path.read_text() for path in have[:count]]


def client_id(index: int) -> str:
    return f"bench-{index}"


def resource_name(index: int) -> str:
    return f"c{index:05d}"


def key_secret_name(index: int) -> str:
    return f"{resource_name(index)}-maskinporten-key"


def workload_secret_name(index: int) -> str:
    return f"{resource_name(index)}-maskinporten"


def register_clients(standin: StandinThread, keys: Sequence[str]) -> None:
    """One client at the stand-in per key, allowed both scopes, its public key registered."""
    for index, jwk in enumerate(keys):
        public = {
            k: v for k, v in json.loads(jwk).items() if k in ("kty", "e", "n", "kid", "alg", "use")
        }
        standin.register_client(
            Client(
                client_id=client_id(index),
                org=ORG,
                scopes=frozenset({APPLY_SCOPE, STEADY_SCOPE}),
                keys=(RegisteredKey(public),),
            )
        )
