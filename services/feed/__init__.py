"""The order-status feed: one stream of events, kept in Redis, served by every replica.

model.py is the event; store.py appends it and reads history (a capped Redis
stream, the ids from one counter); hub.py is a replica's fan-out: one Redis
pub/sub subscription per replica, a bounded queue per connected client.
"""
