"""Which images a start needs (comms_sandbox/images.py), no Docker."""

from __future__ import annotations

import pytest

from comms_sandbox import images


def test_a_lessons_images_include_what_its_services_are_built_on() -> None:
    assert "python" in images.images_for(["api"])
    assert images.images_for(["proxy"]) == ["nginx"]


def test_each_image_is_made_sure_of_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test session starts lesson after lesson; select.sh's cached builds of the same
    images took 5 to 15 s at each start."""
    runs: list[list[str]] = []
    monkeypatch.setattr(images, "ENSURED", set())
    monkeypatch.setattr(images.subprocess, "run", lambda args, **kw: runs.append(args[1:]))
    images.ensure_images(["api", "proxy"])
    images.ensure_images(["proxy", "zipkin"])
    images.ensure_images(["api"])
    assert runs == [["nginx", "python"], ["zipkin"]]
