"""Importing the host side changes nothing: not sys.path, not os.environ, not a file.

Each check imports in a fresh interpreter (`python -B`: no bytecode written),
from the root of a copy of the host packages (as `python -m scenarios` runs from
the repository's), with HOME and TMPDIR pointed at empty folders, and compares
sys.path and the environment inside it, and the copy and those two folders
around it, before and after. A copy, because under `make test` the other lane
writes into the repository meanwhile (image builds, tool caches, reports).
"""

from __future__ import annotations

import json
import os
import shutil
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
    "from": [getattr(sys.modules[n], "__file__", None) for n in sys.argv[1:]],
}))
"""
# What the copy holds besides HOST_PACKAGES: the files the host side names by path.
HOST_FILES = (
    "pyproject.toml",
    "compose.yaml",
    "compose.templates.yaml",
    ".sandbox",
    "services/protos",
)

Files = dict[str, tuple[int, int]]


# Written by tools, not by an import (none is copied; the probe writes no bytecode).
TOOL_CACHES = {".ruff_cache", ".pytest_cache", ".hypothesis", ".schemathesis", "__pycache__"}


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


def host_copy(scratch: Path) -> Path:
    """The host packages and the files they name, copied under `scratch`: what the probe
    imports from and watches."""
    root = scratch / "repo"
    ignore = shutil.ignore_patterns(*TOOL_CACHES)
    for name in (*HOST_PACKAGES, *HOST_FILES):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=ignore, symlinks=True)
        elif source.exists():
            root.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    return root


def import_effects(modules: list[str], scratch: Path, extra_path: Path | None = None) -> dict:
    """What importing `modules` in a fresh interpreter changed: sys.path, environ, files."""
    home, tmp = scratch / "home", scratch / "tmp"
    home.mkdir()
    tmp.mkdir()
    root = host_copy(scratch)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "MPL"))}
    env |= {"HOME": str(home), "TMPDIR": str(tmp)}
    # The copy's stubs, where the venv's .pth names the repository's (comms_sandbox.protos)
    paths = [root / ".sandbox" / "generated", *([extra_path] if extra_path else [])]
    env["PYTHONPATH"] = os.pathsep.join(str(path) for path in paths)
    before = files_under(root, home, tmp)
    probe = subprocess.run(
        [sys.executable, "-B", "-c", PROBE, *modules],
        cwd=root, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    effects = json.loads(probe.stdout.splitlines()[-1])
    elsewhere = [f for f in effects.pop("from") if f and extra_path is None
                 and not f.startswith(str(root))]  # fmt: skip
    assert not elsewhere, f"imported from outside the copy: {elsewhere}"
    effects["files"] = changed(before, files_under(root, home, tmp))
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
        "pathlib.Path('comms_sandbox', 'generated.py').write_text('# on import')\n"
    )
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    effects = import_effects(["noisy"], scratch, extra_path=tmp_path)
    assert effects["sys.path"]
    assert effects["environ"] == ["NOISY"]
    assert effects["files"] == [
        str(scratch / "home" / "trace"),
        str(scratch / "repo" / "comms_sandbox"),  # its modification time too
        str(scratch / "repo" / "comms_sandbox" / "generated.py"),
    ]
