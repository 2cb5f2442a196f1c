"""The README's commands work as written, so the docs cannot rot.

Every line of a ```console block in the README is a command that this test runs (or, for the
long-running sandbox, starts and checks). `make test` is not run from inside `make test`; `make demo`
is `release-train demo`, which tests/test_wheel.py plays from the built wheel; ```sh blocks (Docker)
are not run because no Docker engine runs on these machines.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def console_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    commands: list[str] = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        commands.extend(line.strip() for line in block.splitlines() if line.strip())
    return commands


def test_quick_start_has_exactly_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.findall(r"```console\n(.*?)```", quick, flags=re.S)[0]
    assert [line.strip() for line in block.splitlines() if line.strip()] == ["make demo", "make test"]


def test_every_console_command_is_one_this_test_knows() -> None:
    known = ("make demo", "make test", "release-train sandbox", "release-train check-config")
    for command in console_commands():
        assert command.startswith(known), f"README command not covered by tests/test_readme.py: {command}"


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}


def test_check_config_command_from_readme() -> None:
    for command in console_commands():
        if command.startswith("release-train check-config"):
            result = subprocess.run(
                shlex.split(command), cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60
            )
            assert result.returncode == 0, result.stdout + result.stderr


def test_sandbox_command_from_readme(tmp_path: Path) -> None:
    for command in console_commands():
        if not command.startswith("release-train sandbox"):
            continue
        argv = shlex.split(command.replace("var/sandbox", str(tmp_path / "sandbox")))
        proc = subprocess.Popen(argv, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready = json.loads(proc.stdout.readline())
            assert set(ready) >= {"api_url", "app_id", "private_key_path", "webhook_url"}
            assert isinstance(ready["app_id"], int) and not ready["api_url"].endswith("/")
            assert Path(ready["private_key_path"]).exists()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def test_make_demo_is_the_installed_command_that_test_wheel_plays() -> None:
    """`make demo` runs `release-train demo` from the project's venv; tests/test_wheel.py plays that command
    from the built wheel, in an empty folder (running it from the checkout as well would only repeat it)."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "$(BIN)/release-train demo" in recipe
    wheel_test = (ROOT / "tests" / "test_wheel.py").read_text()
    assert '"release-train", "demo"' in wheel_test
