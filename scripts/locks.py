"""The services' hash-pinned requirement files, exported from uv.lock (never edited by hand).

`python -m scripts.locks export` writes them; the unit tests compare them
with a fresh export, so they cannot drift from uv.lock.
"""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
UV = REPO / ".venv" / "bin" / "uv"
# dependency group in pyproject.toml -> the file the service image installs
EXPORTS = {
    "service": REPO / "services" / "requirements" / "service.lock",
    "codegen": REPO / "services" / "requirements" / "codegen.lock",
}


def exported(group: str) -> str:
    return subprocess.run(
        [str(UV), "export", "--frozen", "--only-group", group, "--no-emit-project",
         "--no-header", "--quiet"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def export() -> None:
    for group, path in EXPORTS.items():
        path.write_text(exported(group))
        print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    if sys.argv[1:] != ["export"]:
        sys.exit("usage: python -m scripts.locks export")
    export()
