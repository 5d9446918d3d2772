"""The sidecar pattern on the real stack, asserted on the sidecar scenario's results."""

from __future__ import annotations

from scenarios.result import ScenarioResult
from tests.helpers import assert_holds


def test_a_missing_key_is_refused_by_the_sidecar_and_never_reaches_the_app(
    result: ScenarioResult,
) -> None:
    assert result.metrics["with_sidecar"]["no_key_status"] == 401
    assert result.metrics["without_sidecar"]["no_key_status"] == 200
    adapter = result.metrics["adapter"]
    # The app's own log (read by the adapter) grew by exactly the requests let through.
    assert adapter["seen_after"] == adapter["expected_after"] > adapter["app_requests_before"]


def test_the_sidecar_adds_a_request_id_and_logs_it(result: ScenarioResult) -> None:
    on = result.metrics["with_sidecar"]
    assert len(on["request_id"]) == 32
    assert on["ambassador_log"]["request_id"] == on["request_id"]
    assert on["ambassador_log"]["api_key_ok"] == 1
    assert result.metrics["without_sidecar"]["request_id"] is None


def test_failed_idempotent_calls_are_retried_by_the_sidecar(result: ScenarioResult) -> None:
    assert result.metrics["with_sidecar"]["flaky_statuses"] == {"200": 10}
    assert result.metrics["with_sidecar"]["retried_by_ambassador"] >= 9
    assert result.metrics["without_sidecar"]["flaky_statuses"]["503"] >= 4


def test_timeouts_and_rate_limits_come_from_the_sidecar(result: ScenarioResult) -> None:
    on, off = result.metrics["with_sidecar"], result.metrics["without_sidecar"]
    assert (on["slow_status"], off["slow_status"]) == (504, 200)
    assert on["slow_s"] < 2.9 <= off["slow_s"]
    assert on["burst_statuses"].get("429", 0) > 0
    assert "429" not in off["burst_statuses"]


def test_only_the_sidecar_port_is_reachable_from_other_containers(result: ScenarioResult) -> None:
    reach = result.metrics["from_another_container"]
    assert reach["app port 9000"] == "ConnectionRefusedError"
    assert reach["ambassador port 8000"] == "connected"


def test_the_app_code_knows_nothing_of_its_sidecars(result: ScenarioResult) -> None:
    assert result.metrics["sidecar_words_in_app_code"] == []
    assert_holds(result)
