"""A real one-node Kubernetes cluster for the cluster tests and the cluster demo.

By concern: ``prerequisites`` (what the machine must offer), ``packages`` (the Debian packages,
installed when missing), the binaries (``maskinporten_testbed.binaries``), ``images`` (made here,
cached by content), ``namespaces`` / ``configs`` / ``pki`` / ``components`` (the bring-up),
``processes`` and ``teardown`` (everything by PID, checked), ``cluster`` (the whole).
Facts and timings: docs/one-node-cluster.md in the shared docs, and ``prepare``'s output.
"""

from .cluster import Node
from .errors import NodeUnavailable
from .prepare import NodeImages, prepare
from .settings import NODE_IP

__all__ = ["NODE_IP", "Node", "NodeImages", "NodeUnavailable", "prepare"]
