"""Keeps Kubernetes workloads supplied with Maskinporten credentials and fresh access tokens."""
