"""CLI: `python -m proxy generate` writes proxy/nginx.conf from proxy/site.py;
`python -m proxy check` exits 1 with a unified diff when the file has drifted."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from proxy.nginx_builder import render
from proxy.site import SITE

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "nginx.conf"


def generate(output: Path) -> int:
    output.write_text(render(SITE), encoding="utf-8")
    print(f"wrote {output}")
    return 0


def check(output: Path) -> int:
    expected = render(SITE)
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
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="nginx.conf path")
    args = parser.parse_args(argv)
    action = generate if args.command == "generate" else check
    return action(args.output)


if __name__ == "__main__":
    raise SystemExit(main())
