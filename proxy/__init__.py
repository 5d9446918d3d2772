"""The reverse proxy: nginx.conf generated from the declarative description in proxy/site.py."""
