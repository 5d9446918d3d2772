"""One handler served four ways, and a small accept queue (lesson execution-models)."""
