"""The container's command and health check, run outside Docker (no Docker engine runs on these machines).

The Dockerfile's CMD is `release-train serve` and its HEALTHCHECK is `release-train healthcheck`;
this test runs both exactly as the image would, with the image's environment, and reads the
Dockerfile so the test and the image cannot drift apart.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fault_scenarios import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def dockerfile_json_array(instruction: str) -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    match = re.search(rf"^{instruction}\b.*?(\[.*?\])\s*$", text, flags=re.M)
    assert match, f"no {instruction} in the Dockerfile"
    return json.loads(match.group(1))


def test_image_runs_as_non_root_on_a_slim_base() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim\s*$", text, flags=re.M)
    assert re.search(r"^USER (?!root)\S+", text, flags=re.M)
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in ("tests", ".venv", ".git"):
        assert path in ignored


def test_cmd_serves_and_healthcheck_reports_healthy(tmp_path: Path) -> None:
    cmd = dockerfile_json_array("CMD")
    health = dockerfile_json_array("HEALTHCHECK.*CMD")
    assert cmd == ["release-train", "serve"]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "APP_ID": "1",
        "PRIVATE_KEY": key.decode(),
        "WEBHOOK_SECRET": "s",
        "GITHUB_API_URL": "http://127.0.0.1:9",
        "STATE_URL": f"sqlite:///{tmp_path}/release-train.db",
        "LOG_FORMAT": "json",
        "REDELIVERY_INTERVAL_SECONDS": "0",
        "SWEEP_INTERVAL_SECONDS": "0",
    }
    # Before the server is up, the health check fails.
    assert subprocess.run(health, env=env, capture_output=True, timeout=30).returncode != 0
    server = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 30
        healthy = False
        while time.monotonic() < deadline and server.poll() is None:
            if subprocess.run(health, env=env, capture_output=True, timeout=30).returncode == 0:
                healthy = True
                break
            time.sleep(0.2)
        assert healthy, server.stderr.read().decode() if server.poll() is not None else "never healthy"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    # Logs are JSON lines and never carry the key.
    err = server.stderr.read().decode()
    assert "PRIVATE KEY" not in err
    for line in filter(None, err.splitlines()):
        json.loads(line)
    # After it stopped, the health check fails again.
    assert subprocess.run(health, env=env, capture_output=True, timeout=30).returncode != 0
