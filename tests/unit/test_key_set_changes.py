"""How a managed client's registered key set is to change to serve its key ring: a pure rule."""

from __future__ import annotations

import pytest

from maskinporten_operator.credentials.keys import ClientKey, generate_client_key
from maskinporten_operator.ports import JwksEntry, RegisteredJwks
from maskinporten_operator.reconcile.policies import RENEW_BEFORE_SECONDS
from maskinporten_operator.reconcile.ring import ACTIVE, PENDING, RETIRING, KeyRing, RingKey
from maskinporten_operator.reconcile.rotation import key_set_changes

NOW = 1_800_000_000.0
FAR = NOW + 200 * 86_400.0


def registered(*entries: tuple[str, float]) -> RegisteredJwks:
    return RegisteredJwks(tuple(JwksEntry(kid, exp, {"kid": kid}) for kid, exp in entries))


@pytest.fixture(scope="module")
def keys(client_key: ClientKey) -> tuple[ClientKey, ClientKey]:
    """The ring's first key and a second one."""
    return client_key, generate_client_key()


def test_a_ring_fully_registered_far_from_expiry_needs_no_change(
    keys: tuple[ClientKey, ClientKey],
) -> None:
    active, _ = keys
    ring = KeyRing((RingKey(active, ACTIVE),), "1")
    changes = key_set_changes(ring, registered((active.kid, FAR)), NOW)
    assert not changes.any


def test_a_pending_key_not_yet_registered_is_missing(keys: tuple[ClientKey, ClientKey]) -> None:
    active, pending = keys
    ring = KeyRing((RingKey(active, ACTIVE), RingKey(pending, PENDING)), "1")
    changes = key_set_changes(ring, registered((active.kid, FAR)), NOW)
    assert (changes.missing, changes.renewed, changes.stale) == ((pending.kid,), (), ())


def test_a_key_expiring_within_the_window_is_renewed(keys: tuple[ClientKey, ClientKey]) -> None:
    active, _ = keys
    ring = KeyRing((RingKey(active, ACTIVE),), "1")
    changes = key_set_changes(ring, registered((active.kid, NOW + RENEW_BEFORE_SECONDS)), NOW)
    assert (changes.missing, changes.renewed, changes.stale) == ((), (active.kid,), ())


def test_a_retired_key_past_its_time_is_stale_and_no_longer_wanted(
    keys: tuple[ClientKey, ClientKey],
) -> None:
    active, retired = keys
    ring = KeyRing((RingKey(active, ACTIVE), RingKey(retired, RETIRING, retire_after=NOW)), "1")
    changes = key_set_changes(ring, registered((active.kid, FAR), (retired.kid, FAR)), NOW)
    assert (changes.stale, [k.kid for k in changes.wanted]) == ((retired.kid,), [active.kid])


def test_a_retiring_key_before_its_time_stays_wanted(keys: tuple[ClientKey, ClientKey]) -> None:
    active, retiring = keys
    ring = KeyRing(
        (RingKey(active, ACTIVE), RingKey(retiring, RETIRING, retire_after=NOW + 1)), "1"
    )
    changes = key_set_changes(ring, registered((active.kid, FAR), (retiring.kid, FAR)), NOW)
    assert (changes.any, len(changes.wanted)) == (False, 2)
