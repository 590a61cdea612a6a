"""The ``maskinporten-operator`` command: ``run`` (the operator), ``token`` and ``keygen``."""

from __future__ import annotations

import argparse
import os
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
        "see the README. Replicas elect a leader through a Lease; only the leader acts.",
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

    run(settings, liveness_endpoint=args.liveness)
