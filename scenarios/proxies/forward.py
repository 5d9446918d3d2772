"""A forward proxy: Squid acts for the clients inside, and the site outside sees only Squid.

forward-client lives on `proxies-inside`, an internal network whose only
other member is Squid; the site (outside) lives on `proxies-outside`. The
client asks for four URLs through Squid and once straight at the site's
address, all in one run of the client; then Squid's own access log says what it saw of each request.
"""

from __future__ import annotations

import json
from typing import Any

from comms_sandbox import proxies

PROXY = "http://squid:3128"
PLAIN = "http://www.outside.test/catalogue?item=beans"
SECRET_PATH = "/account/statement"
SECURE = f"https://www.outside.test{SECRET_PATH}?month=11"
TIMEOUT_S = 2  # each request; the proxied ones take milliseconds
REFUSED = ("http://other.outside.test/", "https://other.outside.test/")


def run() -> dict[str, Any]:
    site = proxies.container("outside")
    site_address = proxies.address_on(site, "proxies-outside")
    squid = proxies.container("squid")
    addresses = {"site": site_address,
                 "squid outside": proxies.address_on(squid, "proxies-outside"),
                 "squid inside": proxies.address_on(squid, "proxies-inside")}  # fmt: skip
    logged_before = len(proxies.squid_log())
    # Then straight at the site's address: nothing routes there from inside (a
    # packet sent is dropped, so the attempt times out; TIMEOUT_S is plenty).
    answers = proxies.fetch_inside([PLAIN, SECURE, *REFUSED], PROXY, TIMEOUT_S,
                                   direct=(f"https://{site_address}/",))  # fmt: skip
    proxied, direct = answers[:4], answers[4:]
    lines = [parse_line(line) for line in proxies.squid_log()[logged_before:]]
    return {"addresses": addresses, "proxied": proxied, "direct": direct, "log": lines,
            "holds": holds(proxied, direct, lines, addresses)}  # fmt: skip


def parse_line(line: str) -> dict[str, Any]:
    """One line of squid.conf's `sandbox` logformat:
    time client status/code bytes-out bytes-in method URL server "headers"."""
    fields, _, headers = line.partition(' "')
    parts = fields.split()
    if len(parts) != 8:
        raise ValueError(f"not a line of the sandbox logformat: {line[:200]!r}")
    time, client, status, sent, received, method, url, server = parts
    return {"time": float(time), "client": client, "status": status, "bytes_sent": int(sent),
            "bytes_received": int(received), "method": method, "url": url, "server": server,
            "headers": headers.removesuffix('"').replace("\\r\\n", "\n").strip()}  # fmt: skip


def seen_by_site(answer: dict[str, Any]) -> dict[str, Any]:
    """What the site reported it saw (its JSON body), or {} for an answer that is not its."""
    try:
        return json.loads(answer.get("body") or "")
    except json.JSONDecodeError:
        return {}


def holds(proxied: list[dict[str, Any]], direct: list[dict[str, Any]],
          lines: list[dict[str, Any]], addresses: dict[str, str]) -> dict[str, bool]:  # fmt: skip
    plain, secure, *refused = proxied
    plain_line = next((x for x in lines if x["method"] == "GET" and "catalogue" in x["url"]), {})
    connects = [x for x in lines if x["method"] == "CONNECT" and x["status"].endswith("/200")]
    denied = [x for x in lines if x["status"] == "TCP_DENIED/403"]
    site_saw = [seen_by_site(a) for a in (plain, secure)]
    clients = {x["client"] for x in lines}
    return {
        "the client reaches the site through Squid, and not without it":
            plain["status"] == 200 and secure["status"] == 200
            and all(a["status"] is None for a in direct),
        "for plain HTTP Squid logs the method, the full URL and the headers":
            plain_line.get("url") == PLAIN and "User-Agent:" in plain_line.get("headers", ""),
        "for HTTPS Squid logs only CONNECT www.outside.test:443 and byte counts":
            [x["url"] for x in connects] == ["www.outside.test:443"]
            and connects[0]["bytes_sent"] > 0
            and not any(SECRET_PATH in x["url"] or SECRET_PATH in x["headers"] for x in lines),
        "the allowlist refuses other.outside.test with Squid's 403, both ways":
            len(denied) == 2 and all(a["status"] == 403 or "403" in a.get("error", "")
                                     for a in refused),
        "the site sees Squid's address, never the client's, and no X-Forwarded-For":
            all(s.get("peer") == addresses["squid outside"] for s in site_saw)
            and not clients & {s.get("peer") for s in site_saw}
            and not any("X-Forwarded-For" in s.get("headers", {}) for s in site_saw),
    }  # fmt: skip
