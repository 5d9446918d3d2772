"""Imports point one way: comms_sandbox at the bottom of the host side, services/ on its own."""

import ast
from pathlib import Path

import pytest

from comms_sandbox import REPO

# What each top-level package may not import. The host side's order, bottom up:
# comms_sandbox <- scenarios <- bench, scripts <- tests. The services run in
# containers and import nothing of the host side.
HOST_SIDE = {"comms_sandbox", "scenarios", "bench", "scripts", "tests", "proxy"}
FORBIDDEN = {
    "comms_sandbox": HOST_SIDE - {"comms_sandbox"},
    "scenarios": {"bench", "scripts", "tests"},
    "bench": {"scripts", "tests"},
    "scripts": {"bench", "tests"},
    "proxy": HOST_SIDE - {"proxy"},
    "services": HOST_SIDE | {"services"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def python_files(package: str) -> list[Path]:
    return sorted(p for p in (REPO / package).rglob("*.py") if "generated" not in p.parts)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_points_the_wrong_way(package: str) -> None:
    wrong = {
        str(path.relative_to(REPO)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in python_files(package)
    }
    assert {path: names for path, names in wrong.items() if names} == {}


def test_nothing_imports_services_as_a_package() -> None:
    # A service module has one import name, the one it has in its container
    # (events.model, api.main), never services.events.model.
    everywhere = [p for d in (*HOST_SIDE, "services") for p in python_files(d)]
    offenders = [str(p.relative_to(REPO)) for p in everywhere if "services" in imported_packages(p)]
    assert offenders == []


def test_the_checker_sees_a_wrong_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from scripts.stack import up\nimport scenarios.lessons\n")
    assert imported_packages(module) == {"scripts", "scenarios"}
