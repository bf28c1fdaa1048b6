"""Serval model tooling (serval-model)."""
