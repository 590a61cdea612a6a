"""``python -m maskinporten_testbed.standin``: serve the stand-in until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

from cryptography import x509

from .server import MaskinportenStandin


def _lifetime(value: str) -> tuple[str, int]:
    scope, _, seconds = value.rpartition("=")
    if not scope or not seconds.isdigit():
        raise argparse.ArgumentTypeError("expected SCOPE=SECONDS")
    return scope, int(seconds)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m maskinporten_testbed.standin",
        description="Strict Maskinporten stand-in with an unauthenticated admin API under "
        "/admin/ (for tests and demos only).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--issuer", help="issuer URL if clients use another host name")
    parser.add_argument("--default-lifetime", type=int, default=120, metavar="SECONDS")
    parser.add_argument(
        "--lifetime", type=_lifetime, action="append", default=[], metavar="SCOPE=SECONDS"
    )
    parser.add_argument("--trust-ca", type=Path, action="append", default=[], metavar="PEM_FILE")
    return parser.parse_args()


async def _serve(arguments: argparse.Namespace) -> None:
    standin = MaskinportenStandin(
        host=arguments.host,
        port=arguments.port,
        issuer=arguments.issuer,
        default_lifetime=arguments.default_lifetime,
        lifetimes=dict(arguments.lifetime),
        trusted_cas=[x509.load_pem_x509_certificate(p.read_bytes()) for p in arguments.trust_ca],
    )
    async with standin:
        print(standin.issuer, flush=True)
        await asyncio.Event().wait()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(_arguments()))


if __name__ == "__main__":
    main()
