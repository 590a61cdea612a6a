"""A managed client's registration at Digdir: the client, its scopes and the operator's keys.

A MaskinportenClient without ``spec.clientId`` (or with ``registration.adopt``) is a *managed
client*: the operator keeps a client at Digdir's self-service API equal to the spec
(``docs/maskinporten-facts.md``, "Self-service API"):

- the client is found by ``status.clientId`` (even when its description was edited since),
  else among the organisation's clients by its ``description``
  (``maskinporten-operator:<cluster>/<namespace>/<name>``) and integration type, so that a
  lost status or a restart between create and status write never gives a second client; only
  when none is found is one created (:mod:`.client`);
- its scopes equal the spec's: the operator's managed-scope policy is checked first (nothing is
  sent to Digdir when it refuses), then the organisation's access to every scope to be added,
  so that a typo is reported by name and never leaves the client half-updated;
- the operator's keys (generated into the key Secret before they are registered, so a private
  key is never lost) are in the client's key set beside every key the operator did not add,
  rotated and renewed (:mod:`.rotation`).

What Digdir answered is remembered, so a steady client costs no API call; after a restart,
two (the client and its key set).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from maskinporten_operator.api import ClientSpec
from maskinporten_operator.reasons import Reason
from maskinporten_operator.reconcile import client, policies, rotation
from maskinporten_operator.reconcile.effects import Reconciliation
from maskinporten_operator.reconcile.memory import KnownRegistration
from maskinporten_operator.reconcile.results import Event, Failure
from maskinporten_operator.reconcile.ring import KeyRing


@dataclass(frozen=True)
class Registration:
    """The managed client as it now is at Digdir, its keys, and the Events its changes gave;
    ``handled_rotation`` is the rotate-key annotation value acted on (None when none was)."""

    known: KnownRegistration
    ring: KeyRing
    events: tuple[Event, ...]
    handled_rotation: str | None = None
    skipped_rotation: str | None = None
    """Why a rotation that is due was skipped (a note for ClientRegistered), None when none was."""

    @property
    def client_id(self) -> str:
        return self.known.client.client_id

    @property
    def kid(self) -> str:
        return self.ring.signing.kid

    def propagating(self, now: float) -> bool:
        """A refused grant is taken for Digdir's propagation of the signing key."""
        registered = policies.registered_at(self.known.jwks, self.kid)
        return policies.propagating(accepted=self.known.accepted, registered=registered, now=now)

    def pending_overdue_for(self, now: float) -> float | None:
        """How long the pending key has been refused past Digdir's propagation window; None
        when there is no pending key, or its window has not passed."""
        pending = self.ring.pending
        if pending is None:
            return None
        return policies.overdue_for(policies.registered_at(self.known.jwks, pending.kid), now)

    def accepted(self) -> Registration:
        return replace(self, known=replace(self.known, accepted=True))

    def rotated(self, ring: KeyRing, event: Event | None) -> Registration:
        return replace(self, ring=ring, events=(*self.events, *([event] if event else [])))


async def ensure_registered(
    run: Reconciliation, spec: ClientSpec, ring: KeyRing, rotate_request: str | None
) -> Registration:
    """Make the client at Digdir match ``spec`` and carry the operator's keys (``ring``, read
    from the key Secret), starting a key rotation when it is due or requested with
    ``rotate_request`` (the rotate-key annotation); raise :class:`Failure`."""
    deps, ref = run.deps, run.ref
    api = deps.self_service
    if api is None:
        raise Failure(Reason.SELF_SERVICE_NOT_CONFIGURED, deps.self_service_problem)
    refused = deps.settings.scopes_refused(ref.namespace, spec.scope_names)
    if refused:
        raise Failure(
            Reason.SCOPE_REFUSED_BY_POLICY,
            f"the operator's managed-scope policy (MASKINPORTEN_OPERATOR_MANAGED_SCOPE_POLICY) "
            f"does not let namespace {ref.namespace} request {', '.join(refused)}; nothing was "
            "sent to Digdir",
        )
    known, found = await client.known_client(run, spec, api, ring.signing.kid)
    known, changed = await client.keep_client(run, spec, api, known)
    started = await rotation.start_if_due(run, spec, api, known, ring, rotate_request)
    known, registered = await rotation.keep_keys(
        run, api, started.known, started.ring, just_read=started.read_keys
    )
    ring = await rotation.remove_retired(run, spec, started.ring)
    events = (*found, *changed, *registered)
    return Registration(known, ring, events, started.handled, started.skipped)
