"""Generated files that are committed must match their generator (no Docker)."""

import pytest

from scripts import locks


@pytest.mark.parametrize("group", sorted(locks.EXPORTS))
def test_service_requirements_match_uv_lock(group: str) -> None:
    assert locks.EXPORTS[group].read_text() == locks.exported(group), (
        f"{locks.EXPORTS[group].name} is stale: run `make lock`"
    )
