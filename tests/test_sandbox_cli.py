"""`python -m bot sandbox` as a user runs it: the ready line, sandbox.json, --port 0, --faults, and a restart that keeps everything."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from gidgethub import apps

PROJECT = Path(__file__).resolve().parents[1]


@asynccontextmanager
async def sandbox_process(state_dir: Path, *extra: str) -> AsyncIterator[dict[str, Any]]:
    """Start the CLI, read its first stdout line, and stop it with SIGTERM afterwards."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--state-dir",
        str(state_dir),
        "--webhook-url",
        "http://127.0.0.1:9/webhook",
        "--webhook-secret",
        "cli-secret",
        *extra,
        cwd=PROJECT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line, (await proc.stderr.read()).decode()  # type: ignore[union-attr]
        yield json.loads(line)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
        assert code == 0


async def call(
    session: aiohttp.ClientSession,
    ready: dict[str, Any],
    method: str,
    path: str,
    body: Any = None,
    *,
    login: str | None = "alice",
    jwt: bool = False,
) -> tuple[int, Any]:
    headers = {"Accept": "application/vnd.github+json"}
    if jwt:
        key = Path(ready["private_key_path"]).read_text()
        headers["Authorization"] = f"Bearer {apps.get_jwt(app_id=str(ready['app_id']), private_key=key)}"
    elif login:
        headers["Authorization"] = f"token {login}"
    async with session.request(method, ready["api_url"] + path, json=body, headers=headers) as resp:
        raw = await resp.read()
        return resp.status, (json.loads(raw) if raw else None)


async def test_ready_line_then_restart_keeps_state(tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with aiohttp.ClientSession() as session:
        async with sandbox_process(state) as ready:
            assert set(ready) == {"api_url", "app_id", "private_key_path", "webhook_url"}
            assert isinstance(ready["app_id"], int)
            assert ready["api_url"].startswith("http://127.0.0.1:") and not ready["api_url"].endswith("/")
            assert not ready["api_url"].endswith(":0")
            assert ready["webhook_url"] == "http://127.0.0.1:9/webhook"
            assert json.loads((state / "sandbox.json").read_text()) == ready
            key_text = Path(ready["private_key_path"]).read_text()
            assert "PRIVATE KEY" in key_text

            status, app = await call(session, ready, "GET", "/app", jwt=True)
            assert status == 200 and app["id"] == ready["app_id"]
            status, _ = await call(session, ready, "POST", "/orgs/acme/repos", {"name": "app", "auto_init": True})
            assert status == 201
            status, issue = await call(
                session, ready, "POST", "/repos/acme/app/issues", {"title": "Kept across restarts"}
            )
            assert status == 201

        async with sandbox_process(state) as again:
            assert again["app_id"] == ready["app_id"]
            assert Path(again["private_key_path"]).read_text() == key_text
            status, app = await call(session, again, "GET", "/app", jwt=True)  # the old key still signs for the app
            assert status == 200
            status, repo = await call(session, again, "GET", "/repos/acme/app")
            assert status == 200 and repo["full_name"] == "acme/app"
            status, kept = await call(session, again, "GET", f"/repos/acme/app/issues/{issue['number']}")
            assert status == 200 and kept["title"] == "Kept across restarts"
            status, deliveries = await call(session, again, "GET", "/app/hook/deliveries", jwt=True)
            assert status == 200
            assert any(d["event"] == "issues" and d["action"] == "opened" for d in deliveries)


async def test_faults_flag_fails_app_requests_only(tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as session:
        async with sandbox_process(tmp_path / "state", "--faults", "api=1,after=0,seed=7") as ready:
            status, _ = await call(session, ready, "GET", "/app", jwt=True)
            assert status in (502, 403)
            status, _ = await call(session, ready, "GET", "/rate_limit", login="alice")
            assert status == 200


async def test_bad_faults_flag_exits_with_a_clear_line(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--state-dir",
        str(tmp_path / "s"),
        "--faults",
        "api=lots",
        cwd=PROJECT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert out == b""
    assert b"--faults" in err and b"api" in err


async def test_missing_manifest_exits_with_a_clear_line(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--state-dir",
        str(tmp_path / "s"),
        "--manifest",
        str(tmp_path / "nope.yml"),
        cwd=PROJECT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert out == b""
    assert b"--manifest" in err and b"nope.yml" in err
