"""The client inside: fetch URLs, through the forward proxy or not, and print what came back.

Run in the `forward-client` container, whose only network is `proxies-inside`:

    python -m outside.fetch [--proxy http://squid:3128] [--timeout S] [--direct URL] URL...

One JSON line per URL: the status, the body's first bytes (the site's own
report of what it saw) and its size, or the error. The sandbox CA (mounted) is the only one
trusted for HTTPS.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import time
import urllib.error
import urllib.request
from typing import Any

CA = "/etc/outside-tls/ca.pem"
TIMEOUT_S = 5.0
MAX_BODY = 16 * 1024 * 1024


def opener(proxy: str | None) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context(cafile=CA)
    proxies = {"http": proxy, "https": proxy} if proxy else {}
    return urllib.request.build_opener(urllib.request.ProxyHandler(proxies),
                                       urllib.request.HTTPSHandler(context=context))  # fmt: skip


def fetch(url: str, proxy: str | None, timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
    started = time.perf_counter()
    answer: dict[str, Any] = {"url": url, "proxy": proxy}
    try:
        with opener(proxy).open(url, timeout=timeout_s) as response:
            body = response.read(4096)
            size = len(body) + drain(response)
            answer.update(status=response.status, body=body.decode(errors="replace"), bytes=size)
    except urllib.error.HTTPError as error:
        answer.update(status=error.code, body=error.read(512).decode(errors="replace"))
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        answer.update(status=None, error=f"{type(reason).__name__}: {reason}")
    answer["seconds"] = round(time.perf_counter() - started, 4)
    return answer


def drain(response: Any) -> int:
    """Read the rest of a body (at most MAX_BODY) and count it: a download's whole time."""
    total = 0
    while total < MAX_BODY and (chunk := response.read(65536)):
        total += len(chunk)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m outside.fetch", description=__doc__)
    parser.add_argument("--proxy", help="the forward proxy, e.g. http://squid:3128")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per URL")
    parser.add_argument(
        "--direct",
        action="append",
        default=[],
        help="a URL to fetch with no proxy, after the others (repeatable)",
    )
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args(argv)
    for url in args.urls:
        print(json.dumps(fetch(url, args.proxy, args.timeout)), flush=True)
    for url in args.direct:
        print(json.dumps(fetch(url, None, args.timeout)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
