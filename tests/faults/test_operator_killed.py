"""The operator is SIGKILLed at random points, again and again, and restarted each time.

Fresh resources are created, and refreshes forced, a random moment before each kill, so that
kills land between a key's generation and the status write, during token writes, and
everywhere else. Whatever the moment: no key is ever regenerated (each key Secret keeps its
``kid``, and the status names that key), no Secret is lost, and a restarted operator reuses the
tokens in the Secrets instead of requesting them all again.
"""

from __future__ import annotations

import random
import time

from maskinporten_testbed.polling import eventually
from maskinporten_testbed.standin import StandinThread
from tests.integration.helpers import Cluster, provision

from .bed import (
    DEADLINE,
    LASTING_SCOPE,
    FaultBed,
    crashes,
    key_ids,
    report,
    scaled,
    secret_names,
)

KILLS = scaled(5, 50)
WINDOW = scaled(6, 60)
"""Seconds after each restart in which the token requests are counted."""
MEAN_DELAY, LONGEST_DELAY = 0.4, 3.0
"""Kills land from 0 to 3 s after the fresh resources are created, most within the first
second, where the operator generates keys and writes Secrets and status."""


def _settled(cluster: Cluster, kept: list[str], generated: list[str]) -> bool:
    """Every resource with a registered key is Ready, and every generated key is named by the
    status of its resource."""
    kids = key_ids(cluster)
    for name in kept:
        if cluster.condition(name).get("status") != "True":
            return False
    for name in generated:
        status = cluster.get_client(name).get("status", {})
        key_id = status.get("keyId")
        if key_id is None or key_id != kids.get(f"{name}-maskinporten-key"):
            return False
        if cluster.condition(name).get("reason") != "TokenRequestRejected":
            return False
    return True


def test_operator_killed_at_random_points_regenerates_no_key_and_loses_no_secret(
    bed: FaultBed, standin: StandinThread
) -> None:
    seed = random.randrange(2**32)  # noqa: S311 - when to kill, printed to replay a run
    rng = random.Random(seed)  # noqa: S311
    cluster = bed.namespace()
    kept: list[str] = []
    generated: list[str] = []
    first_kid: dict[str, str] = {}
    seen_secrets: set[str] = set()
    regenerated: set[str] = set()
    lost: set[str] = set()
    requests_after: list[int] = []
    issued_after: list[int] = []
    between_key_and_status = 0
    bed.start_operator()
    for kill in range(KILLS):
        provision(cluster, standin, f"kept-{kill}", scopes=(LASTING_SCOPE,))
        cluster.create_client(
            f"gen-{kill}",
            {
                "clientId": f"{cluster.namespace}-unregistered-{kill}",
                "scopes": {"consumes": [{"name": LASTING_SCOPE}]},
            },
        )
        for name in rng.sample(kept, k=min(len(kept), 3)):
            cluster.force_refresh(name, f"kill-{kill}")
        kept.append(f"kept-{kill}")
        generated.append(f"gen-{kill}")
        time.sleep(min(rng.expovariate(1 / MEAN_DELAY), LONGEST_DELAY))
        bed.kill_operator()

        kids_at_kill = key_ids(cluster)
        for name, kid in kids_at_kill.items():
            first_kid.setdefault(name, kid)
        if f"gen-{kill}-maskinporten-key" in kids_at_kill and not cluster.get_client(
            f"gen-{kill}"
        ).get("status", {}).get("keyId"):
            between_key_and_status += 1
        seen_secrets |= secret_names(cluster)
        restarted = standin.now()
        bed.start_operator()
        eventually(
            lambda: _settled(cluster, kept, generated),
            what="every resource settled after the restart",
            timeout=DEADLINE,
            interval=0.5,
        )
        time.sleep(max(0.0, restarted + WINDOW - standin.now()))
        window = [r for r in standin.requests() if restarted <= r.at < restarted + WINDOW]
        mine = [r for r in window if (r.client_id or "").startswith(cluster.namespace)]
        requests_after.append(len(mine))
        issued_after.append(sum(r.status == 200 for r in mine))

        kids = key_ids(cluster)
        for name, kid in kids.items():
            first_kid.setdefault(name, kid)
        regenerated |= {name for name, kid in first_kid.items() if kids.get(name) != kid}
        lost |= seen_secrets - secret_names(cluster)

    report(
        "operator-killed",
        kills=KILLS,
        seed=seed,
        resources=len(kept) + len(generated),
        kills_between_key_and_status=between_key_and_status,
        keys_regenerated=len(regenerated),
        secrets_lost=len(lost),
        window_s=WINDOW,
        requests_in_window=requests_after,
        tokens_issued_in_window=issued_after,
        crashes=len(crashes(bed.logs())),
    )
    assert regenerated == set()
    assert lost == set()
    assert crashes(bed.logs()) == []
