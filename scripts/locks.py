"""The lock files: hash-pinned requirements compiled from pyproject.toml's dependency groups.

`python -m scripts.locks compile` (`make lock`) resolves them with uv. They
hold names, versions and hashes only (no index URLs). The host's lock is
compiled first and constrains the services' locks, so a package has the same
version on the host and in the images.
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
UV = REPO / ".venv" / "bin" / "uv"
HOST_LOCK = Path("requirements.lock")


@dataclass(frozen=True)
class Lock:
    group: str  # the dependency group in pyproject.toml
    path: Path  # relative to the repository


LOCKS = (
    Lock("dev", HOST_LOCK),  # the host: scenarios, tests, tools (.venv)
    Lock("service", Path("services/requirements/service.lock")),  # what the images run
    Lock("codegen", Path("services/requirements/codegen.lock")),  # protoc, at image build
    Lock("rtcpeer", Path("services/requirements/rtcpeer.lock")),  # the WebRTC lesson's peers
    Lock("wire", Path("services/requirements/wire.lock")),  # on-the-wire's loss client
)


def compile_lock(lock: Lock) -> None:
    constraints = [] if lock.path == HOST_LOCK else ["--constraints", str(HOST_LOCK)]
    subprocess.run(
        [str(UV), "pip", "compile", "pyproject.toml", "--group", lock.group,
         "--universal", "--python-version", "3.11", "--generate-hashes",
         "--no-header", "--quiet", *constraints, "--output-file", str(lock.path)],
        cwd=REPO, check=True, env={"UV_NATIVE_TLS": "1"} | dict(os.environ),
    )  # fmt: skip
    print(f"wrote {lock.path}")


def pinned(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` line in a lock file."""
    pins = {}
    for line in (REPO / path).read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split(";")[0].split("==")
            pins[normalize(name)] = version.split()[0].rstrip("\\").strip()
    return pins


def normalize(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


if __name__ == "__main__":
    if sys.argv[1:] != ["compile"]:
        sys.exit("usage: python -m scripts.locks compile")
    for each in LOCKS:
        compile_lock(each)
