"""Importing the host side changes nothing: not sys.path, not os.environ, not a file.

Each check imports in a fresh interpreter (`python -B`: no bytecode written),
from the repository root as `python -m scenarios` runs, with HOME and TMPDIR
pointed at empty folders, and compares sys.path and the environment inside it,
and the repository and those two folders around it, before and after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from comms_sandbox import REPO

HOST_PACKAGES = ("comms_sandbox", "scenarios", "bench", "scripts", "proxy", "tests")

# Runs in the fresh interpreter: imports argv's modules, prints what they changed.
PROBE = """
import importlib, json, os, sys
path, environ = list(sys.path), dict(os.environ)
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps({
    "sys.path": sys.path != path and [path, sys.path],
    "environ": sorted(k for k in {*environ, *os.environ} if environ.get(k) != os.environ.get(k)),
}))
"""

Files = dict[str, tuple[int, int]]


# Written by tools that may run beside the tests (ruff, pytest, git, and schemathesis and
# its hypothesis under the other test lane's fuzz run: tests/lanes.py), not by an import; and
# results/, where every scenario run beside them leaves its report (scenarios/reports).
TOOL_CACHES = {".git", ".venv", ".ruff_cache", ".pytest_cache", ".hypothesis", ".schemathesis",
               "__pycache__", "results"}  # fmt: skip


def files_under(*roots: Path) -> Files:
    """Every file and folder below `roots` but tool caches: path -> (size, modification time)."""
    found: Files = {}
    for root in roots:
        for folder, folders, names in os.walk(root):
            folders[:] = [f for f in folders if f not in TOOL_CACHES]
            for name in (*folders, *names):
                stat = os.lstat(os.path.join(folder, name))
                found[os.path.join(folder, name)] = (stat.st_size, stat.st_mtime_ns)
    return found


def changed(before: Files, after: Files) -> list[str]:
    return sorted(path for path in {*before, *after} if before.get(path) != after.get(path))


def import_effects(modules: list[str], scratch: Path, extra_path: Path | None = None) -> dict:
    """What importing `modules` in a fresh interpreter changed: sys.path, environ, files."""
    home, tmp = scratch / "home", scratch / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "MPL"))}
    env |= {"HOME": str(home), "TMPDIR": str(tmp)}
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    before = files_under(REPO, home, tmp)
    probe = subprocess.run(
        [sys.executable, "-B", "-c", PROBE, *modules],
        cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    effects = json.loads(probe.stdout.splitlines()[-1])
    effects["files"] = changed(before, files_under(REPO, home, tmp))
    return effects


def host_modules() -> list[str]:
    """Every host-side module but the `__main__` ones (running those is their point)."""
    paths = (p for package in HOST_PACKAGES for p in (REPO / package).rglob("*.py"))
    names = {".".join(p.relative_to(REPO).with_suffix("").parts) for p in paths}
    return sorted(n.removesuffix(".__init__") for n in names if not n.endswith("__main__"))


NOTHING = {"sys.path": False, "environ": [], "files": []}


def test_importing_comms_sandbox_and_its_grpc_stubs_changes_nothing(tmp_path: Path) -> None:
    assert import_effects(["comms_sandbox", "comms_sandbox.grpc"], tmp_path) == NOTHING


def test_importing_any_host_module_changes_nothing(tmp_path: Path) -> None:
    modules = host_modules()
    assert {"comms_sandbox.grpc", "scenarios.charts", "tests.integration.conftest"} <= set(modules)
    assert import_effects(modules, tmp_path) == NOTHING


def test_the_probe_sees_each_kind_of_change(tmp_path: Path) -> None:
    (tmp_path / "noisy.py").write_text(
        "import os, pathlib, sys\n"
        "sys.path.append('/somewhere')\n"
        "os.environ['NOISY'] = '1'\n"
        "pathlib.Path(os.environ['HOME'], 'trace').write_text('imported')\n"
    )
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    effects = import_effects(["noisy"], scratch, extra_path=tmp_path)
    assert effects["sys.path"]
    assert effects["environ"] == ["NOISY"]
    assert effects["files"] == [str(scratch / "home" / "trace")]
