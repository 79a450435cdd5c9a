"""One adapter per outside system, each with its port (a ``Protocol``) beside it.

The port says what the project needs from the system in its own terms (frozen dataclasses and
plain values in, the same out, never SDK objects); the adapter is the only code that speaks the
system's SDK or HTTP API; tests run against fakes that inherit the port. Composition roots
(``app/bootstrap.py``, ``api.main.create_app``, the flows, the CLI) build adapters from the
settings. Adapters raise :mod:`core.adapters.errors`; managers turn those into messages.
"""
