"""Adapter sidecars: turn what an app writes into what the platform reads."""
