"""``python -m maskinporten_testbed.node``: prepare the node (packages, binaries, images)."""

from .prepare import main

main()
