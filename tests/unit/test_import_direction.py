"""Imports point one way: comms_sandbox at the bottom of the host side, services/ on its own."""

import ast
import importlib.util
from collections.abc import Iterable, Mapping
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from comms_sandbox import REPO
from comms_sandbox.protos import GENERATED

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
    # (order_events.model, api.main), never services.order_events.model.
    everywhere = [p for d in (*HOST_SIDE, "services") for p in python_files(d)]
    offenders = [str(p.relative_to(REPO)) for p in everywhere if "services" in imported_packages(p)]
    assert offenders == []


def test_the_checker_sees_a_wrong_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from scripts.stack import up\nimport scenarios.lessons\n")
    assert imported_packages(module) == {"scripts", "scenarios"}


def service_packages() -> list[str]:
    """The import names of the packages the image copies to /app: services/<name>/__init__.py."""
    return sorted(path.parent.name for path in (REPO / "services").glob("*/__init__.py"))


def shadowed(names: Iterable[str], installed: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The names an installed distribution provides too: which one `import` finds then
    depends on the path's order, and .venv lists services/ after site-packages."""
    return {name: installed[name] for name in names if name in installed}


def test_no_installed_distribution_takes_a_service_or_stub_package_name() -> None:
    assert shadowed([*service_packages(), "sandbox"], packages_distributions()) == {}


def test_the_shadow_check_sees_a_taken_name() -> None:
    installed = {"events": ["Events"], "pydantic": ["pydantic"]}
    assert shadowed(["events", "api"], installed) == {"events": ["Events"]}


def test_service_packages_and_stubs_are_found_where_the_image_copies_them_from() -> None:
    # .venv's comms_sandbox.pth (scripts/bootstrap-venv.sh) lists services/ and
    # .sandbox/generated/, as the image's PYTHONPATH lists /app and /app/generated.
    origins = {name: importlib.util.find_spec(name).origin for name in service_packages()}
    assert origins == {name: str(REPO / "services" / name / "__init__.py") for name in origins}
    assert "order_events" in origins
    stub = importlib.util.find_spec("sandbox.pricing.v1.pricing_pb2")
    assert stub.origin == str(GENERATED / "sandbox" / "pricing" / "v1" / "pricing_pb2.py")
