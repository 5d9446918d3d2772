"""The Compose model read without Docker: include, extends and their merge rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from comms_sandbox.compose_model import ComposeModelError, load_model, merge, with_defaults


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_merge_keeps_the_services_own_keys_and_joins_lists() -> None:
    template = {"tmpfs": ["/tmp"], "healthcheck": {"interval": "2s", "test": ["CMD", "a"]},
                "environment": {"A": "1", "B": "2"}, "command": ["x", "y"]}  # fmt: skip
    own = {"tmpfs": ["/tmp", "/var/log"], "healthcheck": {"test": ["CMD", "b"]},
           "environment": {"B": "3"}, "command": ["z"]}  # fmt: skip
    merged = merge(template, own)
    assert merged["tmpfs"] == ["/tmp", "/var/log"]  # joined, no repeat
    assert merged["healthcheck"] == {"interval": "2s", "test": ["CMD", "b"]}  # test replaced
    assert merged["environment"] == {"A": "1", "B": "3"}
    assert merged["command"] == ["z"]


def test_include_and_extends_across_files(tmp_path: Path) -> None:
    write(tmp_path / "templates.yaml", "services:\n  base:\n    restart: always\n"
          "    volumes: [./shared.conf:/etc/shared.conf:ro]\n")  # fmt: skip
    write(tmp_path / "lessons/a/compose.yaml",
          "services:\n  a:\n    extends: {file: ../../templates.yaml, service: base}\n"
          "    profiles: [a]\n    volumes: [./own.conf:/etc/own.conf:ro]\n"
          "networks:\n  side: {}\n")  # fmt: skip
    main = write(tmp_path / "compose.yaml", "name: t\ninclude: [lessons/a/compose.yaml]\n"
                 "services:\n  main:\n    image: x\nnetworks:\n  back: {}\n")  # fmt: skip
    model = load_model(main)
    a = model["services"]["a"]
    assert a["restart"] == "always" and a["profiles"] == ["a"]
    # Host paths are relative to the repository root, whichever file named them.
    assert a["volumes"] == [
        "./shared.conf:/etc/shared.conf:ro",
        "./lessons/a/own.conf:/etc/own.conf:ro",
    ]
    assert a["x-file"] == "lessons/a/compose.yaml"
    assert set(model["networks"]) == {"back", "side"}


def test_a_service_declared_twice_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "services:\n  same:\n    image: x\n")
    main = write(tmp_path / "compose.yaml", "include: [a.yaml]\nservices:\n  same:\n    image: y\n")
    with pytest.raises(ComposeModelError, match="declared twice"):
        load_model(main)


def test_a_missing_template_or_a_loop_is_an_error(tmp_path: Path) -> None:
    missing = write(tmp_path / "m.yaml", "services:\n  a:\n    extends: nowhere\n")
    with pytest.raises(ComposeModelError, match="no service 'nowhere'"):
        load_model(missing)
    looping = write(tmp_path / "l.yaml", "services:\n  a:\n    extends: b\n  b:\n    extends: a\n")
    with pytest.raises(ComposeModelError, match="loops"):
        load_model(looping)


def test_conflicting_networks_are_an_error(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "services: {}\nnetworks:\n  back: {internal: false}\n")
    text = "include: [a.yaml]\nservices: {}\nnetworks:\n  back: {internal: true}\n"
    main = write(tmp_path / "compose.yaml", text)
    with pytest.raises(ComposeModelError, match="conflicts"):
        load_model(main)


def test_a_variable_with_a_default_reads_as_compose_reads_it_unset() -> None:
    assert with_defaults("container:${CAPTURE_TARGET:-comms-sandbox-proxy-1}") == (
        "container:comms-sandbox-proxy-1"
    )
    assert with_defaults("${A:-x}-${B:-}") == "x-"
    assert with_defaults(["not", "a string"]) == ["not", "a string"]
