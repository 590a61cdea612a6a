"""``maskinporten-operator keygen``: a new client key, its public half ready to register."""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import replace
from pathlib import Path

from maskinporten_operator.cli.cluster import create_key_secret
from maskinporten_operator.cli.common import (
    EXIT_OK,
    CommandError,
    parse_object_ref,
    report,
)
from maskinporten_operator.credentials.keys import ClientKey, generate_client_key

COMMAND = "keygen"
KID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
EPILOG = """\
stdout gets the public key only: first the JWK inside [ ] (paste it into the client's keys in
Digdir's self-service portal), then the same key as PEM. The private key goes where you say and
nowhere else; an existing file or Secret is never overwritten.

exit codes: 0 done, 2 usage error or the target exists, 4 Kubernetes API failure
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        COMMAND,
        help="generate an RSA 2048 client key and print its public half",
        description="Generate an RSA 2048 client key for Maskinporten. Its kid is its RFC 7638 "
        "thumbprint unless --kid is given.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--out", type=Path, metavar="FILE", help="write the private JWK to a new file (mode 0600)"
    )
    target.add_argument(
        "--secret",
        metavar="NAMESPACE/NAME",
        help="write the private JWK to a new Secret (data key 'jwk') via the current kubeconfig; "
        "a MaskinportenClient uses it with spec.key.secretName",
    )
    parser.add_argument("--kid", help="key id (letters, digits, '.', '_', '-')")
    parser.set_defaults(main=main)


def main(args: argparse.Namespace) -> int:
    try:
        key = _key(args.kid)
        if args.out is not None:
            _write_new_file(args.out, key.private_jwk_json() + "\n")
            where = f"file {args.out} (mode 0600)"
        else:
            namespace, name = parse_object_ref(args.secret)
            create_key_secret(namespace, name, key)
            where = f"Secret {namespace}/{name} under 'jwk'"
    except CommandError as error:
        return report(COMMAND, error)
    print(
        f"Wrote the private key (kid {key.kid}) to {where}. Register the public key below on "
        "the Maskinporten client.",
        file=sys.stderr,
    )
    print(f"[{key.public_jwk_json()}]")
    print(key.public_pem(), end="")
    return EXIT_OK


def _key(kid: str | None) -> ClientKey:
    if kid is not None and not KID.fullmatch(kid):
        raise CommandError("--kid may hold only letters, digits, '.', '_' and '-'")
    key = generate_client_key()
    return replace(key, kid=kid) if kid else key


def _write_new_file(path: Path, content: str) -> None:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CommandError(
            f"{path} exists",
            hint="an existing key is never overwritten: choose another file, or remove it first "
            "if you are sure nothing uses its key",
        ) from None
    except OSError as error:
        raise CommandError(f"cannot create {path}: {error.strerror}") from None
    with os.fdopen(descriptor, "w") as file:
        file.write(content)
