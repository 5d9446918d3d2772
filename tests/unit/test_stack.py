"""`make up`'s preflight: a taken port stops start-up with the port and its variable named."""

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_taken_port_stops_up_and_names_the_variable() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "scripts.stack", "up"],
            cwd=REPO,
            env=os.environ | {"KAFKA_PORT": str(port), "COLUMNS": "200"},
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"Port {port} is taken" in result.stdout
    assert "KAFKA_PORT" in result.stdout
