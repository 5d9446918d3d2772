"""Orders in PostgreSQL, idempotency keys and the transactional outbox (issue 26): the experiments.

Not a lesson yet (no NAME): outbox.py holds the outbox's experiments and
their verdicts, for the lesson's scenario to run and its page to explain.
"""
