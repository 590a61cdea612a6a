"""Adapters to the world outside the core: the Kubernetes API and Prometheus metrics."""
