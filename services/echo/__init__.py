"""An echo service on TCP and UDP, same port (lesson http-versions): python -m echo."""
