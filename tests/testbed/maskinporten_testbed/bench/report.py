"""The table of figures, and the operator's profiles."""

from __future__ import annotations

import pstats
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from .phases import Phase


def by_verb(counts: Counter[str]) -> str:
    return ", ".join(f"{key} {count}" for key, count in sorted(counts.items()))


def print_table(phases: Sequence[Phase], extra: Sequence[tuple[str, str]], machine: str) -> None:
    header = (
        f"{'N':>6} {'who':<9} {'p50 s':>7} {'p99 s':>7} {'all s':>7} {'CPU s':>7} "
        f"{'ms/res':>7} {'RSS MiB':>8} {'tokens':>7} {'API':>6}  API requests by verb"
    )
    print(f"\n{machine}\n{header}\n" + "-" * len(header))
    by_n: dict[int, dict[str, Phase]] = {}
    for phase in phases:
        by_n.setdefault(phase.n, {})[phase.who] = phase
        api_total = sum(c for k, c in phase.requests.items() if not k.startswith("WATCH"))
        print(
            f"{phase.n:>6} {phase.who:<9} {phase.percentile(0.5):>7.2f} "
            f"{phase.percentile(0.99):>7.2f} {phase.wall:>7.2f} {phase.cpu:>7.1f} "
            f"{1000 * phase.cpu / phase.n:>7.1f} {phase.peak_rss_mib:>8.0f} "
            f"{phase.token_requests:>7} {api_total:>6}  {by_verb(phase.requests)}"
        )
    for n, pair in by_n.items():
        if {"operator", "reference"} <= pair.keys():
            op, ref = pair["operator"], pair["reference"]
            op_api = sum(c for k, c in op.requests.items() if not k.startswith("WATCH"))
            ref_api = sum(c for k, c in ref.requests.items() if not k.startswith("WATCH"))
            print(
                f"{n:>6} {'ratio':<9} {'':>7} {'':>7} {op.wall / ref.wall:>6.2f}x "
                f"{op.cpu / ref.cpu:>6.2f}x {'':>7} {'':>8} "
                f"{op.token_requests / max(ref.token_requests, 1):>6.2f}x "
                f"{op_api / max(ref_api, 1):>5.2f}x"
            )
    for label, value in extra:
        print(f"{label:<52} {value}")


IDLE = ("'poll' of 'select", "'select' of 'select", "time.sleep", "'acquire' of '_thread")
"""Profile entries that are waiting, not working (cProfile measures wall time)."""


def print_profile(path: Path, title: str, count: int = 5) -> None:
    if not path.exists():
        print(f"\nprofile {title}: none written ({path})")
        return
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    working = [
        (where, value)
        for where, value in stats.items()
        if not any(idle in where[2] for idle in IDLE)
    ]
    working.sort(key=lambda item: item[1][2], reverse=True)
    total = sum(value[2] for _, value in working) or 1.0
    print(f"\nprofile {title}: top {count} by own time, of {total:.1f} s busy on the main thread")
    for (filename, line, function), (_, calls, own, cumulative, _) in working[:count]:
        where = f"{Path(filename).name}:{line}({function})"
        print(
            f"  {100 * own / total:5.1f}%  own {own:7.2f} s  cum {cumulative:7.2f} s  "
            f"{calls:>8} calls  {where}"
        )
