"""What a reconciliation's steps report besides their values: a :class:`Failure` (raised) and
the :class:`Event` s that mark a change of state (returned)."""

from __future__ import annotations

from dataclasses import dataclass

from maskinporten_operator.reasons import EventType, Reason

NOTE_SEPARATOR = " — "
"""Between a failure's cause and its note in a condition's message."""


@dataclass(frozen=True)
class Event:
    type: EventType
    reason: Reason
    message: str


class Failure(Exception):
    """A reason (for the condition), the ``cause`` a person can act on, and a ``note`` on what
    is kept meanwhile (a token still valid, tokens still requested). The note moves as tokens
    refresh; the reason and cause are what an Event marks a change of."""

    def __init__(self, reason: Reason, cause: str, *, note: str = "") -> None:
        super().__init__(cause + (NOTE_SEPARATOR + note if note else ""))
        self.reason = reason
        self.cause = cause
        self.note = note

    def noted(self, note: str) -> Failure:
        """The same failure with ``note`` (replacing any it had)."""
        return Failure(self.reason, self.cause, note=note)
