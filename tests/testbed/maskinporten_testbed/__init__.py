"""Real local infrastructure for tests and the demo: control plane, Maskinporten stand-in."""
