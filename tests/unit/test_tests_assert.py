"""Every test can fail: each test function asserts something (read from the code, no run)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def asserts(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """An `assert`, a `pytest.raises`, or a call of a helper named assert_*."""
    for node in ast.walk(function):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            called = node.func
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            if name == "raises" or name.startswith("assert_"):
                return True
    return False


def silent_tests(source: str) -> list[str]:
    return [
        node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test")
        and not asserts(node)
    ]


def test_every_test_function_asserts() -> None:
    modules = sorted(TESTS.rglob("test_*.py"))
    assert len(modules) > 20  # the scan found the suite
    silent = [
        f"{module.relative_to(TESTS)}::{name}"
        for module in modules
        for name in silent_tests(module.read_text())
    ]
    assert silent == [], "tests that cannot fail: add an assert, a pytest.raises or an assert_*"


def test_the_scan_tells_a_silent_test_from_one_that_asserts() -> None:
    source = """
def test_silent():
    run_it()

def test_asserts():
    assert run_it() == 1

async def test_raises():
    with pytest.raises(ValueError):
        await run_it()

def test_helper(result):
    assert_holds(result)

def helper_without_assert():
    run_it()
"""
    assert silent_tests(source) == ["test_silent"]
