"""The host's gRPC stubs: `make protos` generates them; importing them only checks them."""

from pathlib import Path

import pytest

from comms_sandbox.protos import STAMP, generate, problem, protos_digest


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("stubs") / "generated")


def test_stubs_are_generated_into_an_empty_folder_and_then_reused(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    generate(out)
    assert (out / "sandbox" / "pricing" / "v1" / "pricing_pb2_grpc.py").is_file()
    assert (out / STAMP).read_text() == protos_digest()
    marker = out / "untouched"
    marker.touch()
    generate(out)  # up to date: nothing regenerated
    assert marker.exists()


def test_a_changed_proto_regenerates(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    generate(out)
    (out / STAMP).write_text("an older proto")
    (out / "stale").touch()
    generate(out)
    assert not (out / "stale").exists()


def test_current_stubs_on_the_path_are_usable(generated: Path) -> None:
    assert problem(generated, path=[str(generated)]) is None


def test_missing_stubs_say_run_make_protos(tmp_path: Path) -> None:
    found = problem(tmp_path / "generated", path=[str(tmp_path / "generated")])
    assert found is not None
    assert "no gRPC stubs" in found
    assert "make protos" in found


def test_stale_stubs_say_run_make_protos(tmp_path: Path) -> None:
    stale = tmp_path / "generated"
    stale.mkdir()
    (stale / STAMP).write_text("the digest of an older proto")
    found = problem(stale, path=[str(stale)])
    assert found is not None
    assert "older than" in found
    assert "make protos" in found


def test_stubs_off_the_interpreters_path_are_reported(generated: Path) -> None:
    found = problem(generated, path=["/elsewhere"])
    assert found is not None
    assert "not on this interpreter's path" in found
