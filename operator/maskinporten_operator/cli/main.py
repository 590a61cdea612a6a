"""The ``maskinporten-operator`` command: ``run`` (the operator), ``token`` and ``keygen``."""

from __future__ import annotations

import argparse
import os
import random
import sys

from maskinporten_operator.cli import keygen, token
from maskinporten_operator.settings import InvalidSettingsError, settings_from_env

EXIT_BAD_SETTINGS = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maskinporten-operator",
        description="Keeps workloads supplied with Maskinporten access tokens; "
        "'COMMAND --help' describes each command.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="run the operator (in a pod, or locally against the current kubeconfig)",
        description="Run the operator. Settings come from MASKINPORTEN_OPERATOR_* variables; "
        "see the README.",
    )
    run.add_argument(
        "--standalone",
        action="store_true",
        help="skip peering with other replicas (one replica, or no peering CRDs installed)",
    )
    run.add_argument(
        "--peering",
        default=None,
        metavar="NAME",
        help="KopfPeering object through which replicas agree on the active one",
    )
    run.add_argument(
        "--priority",
        type=int,
        default=None,
        metavar="N",
        help="peering priority; the live replica with the highest is active (default: random)",
    )
    run.add_argument(
        "--liveness",
        default=None,
        metavar="URL",
        help="serve a health endpoint, e.g. http://0.0.0.0:8080/healthz",
    )
    token.add_parser(commands)
    keygen.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command != "run":
        sys.exit(args.main(args))
    _run(args)


def _run(args: argparse.Namespace) -> None:
    try:
        settings = settings_from_env(os.environ)
    except InvalidSettingsError as error:
        print(f"maskinporten-operator: invalid settings: {error}", file=sys.stderr)
        sys.exit(EXIT_BAD_SETTINGS)
    from maskinporten_operator.runtime.run import run  # the operator's machinery, for run only

    run(
        settings,
        standalone=args.standalone,
        peering_name=args.peering,
        priority=_peering_priority(args),
        liveness_endpoint=args.liveness,
    )


def _peering_priority(args: argparse.Namespace) -> int | None:
    """kopf pauses every replica when peers share a priority; so each replica draws its own."""
    if args.peering is None:
        return None
    if args.priority is not None:
        return int(args.priority)
    return random.SystemRandom().randint(1, 2**31 - 1)
