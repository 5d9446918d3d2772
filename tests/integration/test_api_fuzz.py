"""Property-based fuzzing of the api's OpenAPI document through the proxy (schemathesis).

Every operation gets generated requests, valid and invalid; the run fails on
any 5xx, any response that breaks its own documented schema, or a status
code the document does not list. Deterministic, so a failure reproduces.
"""

import subprocess
import sys
from pathlib import Path

from testcontainers.compose import DockerCompose

from comms_sandbox import REPO, config

EXAMPLES = 25  # per operation and phase: about 40 s for the whole api
# Left out, each for a reason, and each tested on its own:
# /delay sleeps on request (up to 5 s a call); /feed/stream never ends and
# /feed/events/wait holds up to 30 s by design, so a fuzzer's per-request
# timeout cannot tell a held answer from a hung one (their bad input is in
# test_polling_and_push.py).
EXCLUDED = "^/delay|^/feed/stream|^/feed/events/wait"


def test_no_generated_request_gets_a_server_error_or_breaks_the_schema(
    stack: DockerCompose, tmp_path: Path
) -> None:
    schemathesis = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [str(schemathesis), "run", f"{config.proxy_url()}/openapi.json",
         "--tls-verify", str(config.ca_cert()),
         "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance",
         "--max-examples", str(EXAMPLES), "--generation-deterministic",
         "--request-timeout", "15", "--exclude-path-regex", EXCLUDED,
         "--report-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:]
