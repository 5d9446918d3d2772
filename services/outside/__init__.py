"""The proxies lesson's "outside": a site beyond the forward proxy, and a client inside."""
