"""Network faults (in progress): deadlines and a partition, through real Toxiproxy.

The faults services sit behind the `faults` profile; this module starts them
and leaves them to the session's clean-up.
"""

from __future__ import annotations

from typing import Any

import pytest
from testcontainers.compose import DockerCompose

from comms_sandbox import toxiproxy
from comms_sandbox.compose import compose, profile_flags
from scenarios.network_faults import SERVICES, run_parts


@pytest.fixture(scope="module")
def parts(stack: DockerCompose) -> dict[str, Any]:
    result = compose(*profile_flags(SERVICES), "up", "--detach", "--no-build", "--wait",
                     *SERVICES, capture=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return run_parts()


def test_latency_past_the_deadline_is_a_prompt_504_and_the_deadline_reaches_pricing(
    parts: dict[str, Any],
) -> None:
    deadlines = parts["deadlines"]
    assert deadlines["holds"] == dict.fromkeys(deadlines["holds"], True), deadlines
    assert all(call["status"] == 200 for call in deadlines["before"])


def test_a_partition_is_a_503_naming_the_broker_and_loses_no_accepted_order(
    parts: dict[str, Any],
) -> None:
    partition = parts["partition"]
    assert partition["holds"] == dict.fromkeys(partition["holds"], True), partition
    assert partition["lost"] == {"rabbitmq": [], "kafka": []}


def test_no_fault_is_left_configured_after_the_run(parts: dict[str, Any]) -> None:
    assert parts["left_configured"] == []
    assert toxiproxy.leftovers() == []


def test_an_interrupted_run_leaves_no_fault_and_the_next_starts_clean(
    parts: dict[str, Any],
) -> None:
    with pytest.raises(RuntimeError), toxiproxy.clean():
        toxiproxy.add_toxic("pricing", "interrupted", "latency", {"latency": 1000})
        toxiproxy.set_enabled("rabbitmq", False)
        raise RuntimeError("stopped midway")
    assert toxiproxy.leftovers() == []
    toxiproxy.add_toxic("kafka", "left-behind", "latency", {"latency": 1000})  # a crashed run
    with toxiproxy.clean():
        assert toxiproxy.leftovers() == []
