"""Serving a registered model: its pipeline compiled to numpy (compiled), checked (compile)."""
