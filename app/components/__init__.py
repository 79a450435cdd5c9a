"""Reusable render functions: they take typed data, never managers."""
