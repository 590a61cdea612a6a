"""Why the node cannot run here."""

from __future__ import annotations


class NodeUnavailable(RuntimeError):
    """The machine lacks something the node needs; the message names all of it. The cluster
    tests are skipped with this message, and nothing has been started."""
