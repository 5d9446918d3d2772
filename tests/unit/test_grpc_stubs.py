"""The host's gRPC stubs are generated on first use, so a fresh clone needs no `make protos`."""

from pathlib import Path

from comms_sandbox.grpc import STAMP, ensure_stubs, protos_digest


def test_stubs_are_generated_into_an_empty_folder_and_then_reused(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    ensure_stubs(out)
    assert (out / "sandbox" / "pricing" / "v1" / "pricing_pb2_grpc.py").is_file()
    assert (out / STAMP).read_text() == protos_digest()
    marker = out / "untouched"
    marker.touch()
    ensure_stubs(out)  # up to date: nothing regenerated
    assert marker.exists()


def test_a_changed_proto_regenerates(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    ensure_stubs(out)
    (out / STAMP).write_text("an older proto")
    (out / "stale").touch()
    ensure_stubs(out)
    assert not (out / "stale").exists()
