"""Prefect flows: what the control room runs in the background (train, load data)."""
