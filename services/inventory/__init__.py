"""inventory: a small app that knows nothing about its sidecars (compose.yaml, proxy/sidecar.py)."""
