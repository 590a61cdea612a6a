"""The ``maskinporten-operator`` command: ``run``, ``token`` and ``keygen``."""
