"""`python -m scenarios run NAME --json` against the real stack: the contract other tools read."""

import json
import subprocess
import sys

from testcontainers.compose import DockerCompose

from comms_sandbox import REPO


def test_request_response_json_report(stack: DockerCompose) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scenarios", "run", "request-response", "--json"],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"scenario", "ok", "metrics", "evidence", "not_shown"}
    assert report["not_shown"] == {}  # nothing in request-response needs spare CPU
    assert report["scenario"] == "request-response"
    assert report["ok"] is True
    assert report["metrics"]["errors"] == 0
    assert report["metrics"]["replicas"] == 3
    assert report["evidence"]
