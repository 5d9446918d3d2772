"""The on-the-wire lesson's own small servers and clients (scenarios/on_the_wire/)."""
