"""One reconciliation of a MaskinportenClient: gather, decide, apply.

No kopf and no Kubernetes client here: the Kubernetes API is reached through a port.
"""
