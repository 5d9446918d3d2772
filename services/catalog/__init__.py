"""The proxies lesson's origin: a price list behind the lesson's own nginx (the edge)."""
