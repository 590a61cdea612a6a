"""``python -m maskinporten_testbed.bench``: the arguments, the world set up, the phases run."""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

from maskinporten_testbed import binaries
from maskinporten_testbed.controlplane import LocalControlPlane
from maskinporten_testbed.repository import CRDS
from maskinporten_testbed.signals import stopped_by_signals
from maskinporten_testbed.standin import StandinThread

from .kube import api_for
from .phases import Phase, operator_apply, reference, restart
from .report import print_profile, print_table
from .steady import steady
from .world import APPLY_SCOPE, bench_keys, register_clients


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m maskinporten_testbed.bench",
        description="Scale benchmark: the operator against the bare minimum (prints figures).",
    )
    parser.add_argument("--sizes", default="100,500,1000", help="N values (comma-separated)")
    parser.add_argument("--lifetime", type=int, default=120, help="token lifetime, apply phase")
    parser.add_argument("--steady-lifetime", type=int, default=120, help="token lifetime, steady")
    parser.add_argument(
        "--steady-seconds", type=float, help="steady phase length (default: 1.5 lifetimes)"
    )
    parser.add_argument(
        "--steady-shards",
        type=_positive,
        default=1,
        help="operators in the steady phase, each watching its own namespace of N/K resources",
    )
    parser.add_argument("--no-steady", action="store_true", help="skip the steady phase")
    parser.add_argument("--no-restart", action="store_true", help="skip the restart phase")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference loop")
    parser.add_argument("--profile", type=Path, help="directory for the operator's cProfile")
    return parser


def install_crds(plane: LocalControlPlane) -> None:
    kubectl = [str(binaries.KUBERNETES.path("kubectl")), f"--kubeconfig={plane.kubeconfig}"]
    subprocess.run([*kubectl, "apply", "-f", str(CRDS)], check=True, capture_output=True)
    subprocess.run(
        [*kubectl, "wait", "--for=condition=Established", "crd", "--all"],
        check=True,
        capture_output=True,
    )


def main() -> None:
    """Run the benchmark; SIGINT, SIGTERM and SIGHUP stop it and everything it started."""
    with stopped_by_signals():
        _bench()


def _bench() -> None:
    parser = _parser()
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    largest = sizes[-1]
    if args.steady_shards > largest:
        parser.error(f"--steady-shards {args.steady_shards} leaves operators without resources")
    steady_seconds = args.steady_seconds or 1.5 * args.steady_lifetime
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    def profile(name: str) -> Path | None:
        return args.profile / f"{name}.prof" if args.profile else None

    keys = bench_keys(largest)
    binaries.ensure_all()
    with LocalControlPlane(controller_manager=False) as plane, StandinThread() as standin:
        install_crds(plane)
        api = api_for(plane.kubeconfig)
        standin.set_lifetime(APPLY_SCOPE, args.lifetime)
        register_clients(standin, keys)
        phases: list[Phase] = []
        extra: list[tuple[str, str]] = []
        for n in sizes:
            print(f"[bench] N={n}: operator", flush=True)
            phase, operator, namespace = operator_apply(
                plane, standin, api, keys[:n], profile(f"apply-{n}")
            )
            phases.append(phase)
            if n == largest and not args.no_restart:
                print(f"[bench] N={n}: restart", flush=True)
                extra += restart(
                    plane, standin, api, operator, namespace, n, profile(f"restart-{n}")
                )
            else:
                operator.stop()
            if not args.no_reference:
                print(f"[bench] N={n}: reference", flush=True)
                phases.append(reference(standin, api, keys[:n]))
        if not args.no_steady:
            print(f"[bench] N={largest}: steady state for {steady_seconds:.0f} s", flush=True)
            extra += steady(
                plane,
                standin,
                api,
                keys,
                args.steady_lifetime,
                steady_seconds,
                profile(f"steady-{largest}"),
                args.steady_shards,
            )
    machine = (
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end "
        "(the machine may be shared: CPU seconds and request counts are the robust figures); "
        f"apply-phase token lifetime {args.lifetime} s"
    )
    print_table(phases, extra, machine)
    if args.profile:
        for path in sorted(args.profile.glob("*.prof")):
            print_profile(path, path.stem)
