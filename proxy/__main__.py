"""CLI: `python -m proxy generate` writes every nginx config this project runs from its
Python description (proxy/site.py -> nginx.conf, proxy/sidecar.py -> sidecar.conf,
proxy/proxies.py -> proxies.conf);
`python -m proxy check` exits 1 with a unified diff when a file has drifted."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from proxy.model import NginxConfig
from proxy.nginx_builder import render
from proxy.proxies import EDGE
from proxy.sidecar import SIDECAR
from proxy.site import SITE

DEFAULT_DIR = Path(__file__).resolve().parent
CONFIGS: dict[str, NginxConfig] = {
    "nginx.conf": SITE,
    "sidecar.conf": SIDECAR,
    "proxies.conf": EDGE,
}


def generate(directory: Path) -> int:
    for name, config in CONFIGS.items():
        (directory / name).write_text(render(config), encoding="utf-8")
        print(f"wrote {directory / name}")
    return 0


def check(directory: Path) -> int:
    return max(_check_one(directory / name, config) for name, config in CONFIGS.items())


def _check_one(output: Path, config: NginxConfig) -> int:
    expected = render(config)
    actual = output.read_text(encoding="utf-8") if output.exists() else ""
    if actual == expected:
        print(f"{output} is up to date")
        return 0
    diff = difflib.unified_diff(
        actual.splitlines(keepends=True),
        expected.splitlines(keepends=True),
        fromfile=f"{output} (committed)",
        tofile=f"{output} (generated)",
    )
    sys.stdout.writelines(diff)
    print(f"\n{output} is stale: run `python -m proxy generate`", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proxy", description=__doc__)
    parser.add_argument("command", choices=("generate", "check"))
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the .conf files are")
    args = parser.parse_args(argv)
    action = generate if args.command == "generate" else check
    return action(args.dir)


if __name__ == "__main__":
    raise SystemExit(main())
