"""The README's commands work as written, so the docs cannot rot.

Every line of a ```console block in the README is a command that this test runs (or, for the
long-running sandbox, starts and checks), each looked for by name, so a deleted one fails. The
tutorial ("Try it in five minutes") is played from TUTORIAL below, command by command, and each one
must be in the README as written and in order. `make test` is not run from inside `make test`; `make demo`
is `release-train demo`, which tests/test_wheel.py plays from the built wheel; ```sh blocks (Docker)
are not run because no Docker engine runs on these machines.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import seed
from bot.sandbox.harness import World
from fault_scenarios import free_port

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
    known = (
        "make demo",
        "make test",
        "release-train sandbox",
        "release-train check-config",
        "release-train setup",
        "release-train serve",
        "release-train manifest",
    )
    for command in console_commands():
        assert command.startswith(known), f"README command not covered by tests/test_readme.py: {command}"


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}


def test_check_config_command_from_readme() -> None:
    [command] = [c for c in console_commands() if c.startswith("release-train check-config") and "--repo" not in c]
    result = subprocess.run(shlex.split(command), cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


async def test_check_config_repo_command_from_readme(sandbox: World) -> None:
    """The README's `check-config --repo`, on the project's own example file, against the sandbox as the app."""
    [command] = [c for c in console_commands() if c.startswith("release-train check-config") and "--repo" in c]
    argv = shlex.split(command)
    owner, name = argv[argv.index("--repo") + 1].split("/")
    await seed.create_org_repo(sandbox, owner, name, admin="alice")
    env = {k: v for k, v in _env().items() if k not in ("GITHUB_TOKEN", "GHE_HOST", "PRIVATE_KEY")}
    env.update(
        {
            "GITHUB_API_URL": sandbox.api_url,
            "APP_ID": str(sandbox.sandbox.config.app_id),
            "PRIVATE_KEY_PATH": str(sandbox.sandbox.config.private_key_path),
        }
    )

    async def run() -> tuple[int, str]:
        # The sandbox answers from this event loop, so the command runs beside it rather than blocking it.
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode is not None
        return proc.returncode, out.decode()

    # The example's teams do not exist yet: each is named with its line.
    code, out = await run()
    assert code == 1, out
    assert [line.split(": ")[1:3] for line in out.splitlines()[:-1]] == [
        ["line 7", "roles.qa[0]"],
        ["line 8", "roles.rte[0]"],
        ["line 9", "roles.pdm[0]"],
    ]
    # Once the teams exist with access to the repository, the same command passes.
    for slug in ("qa", "release-engineers", "product"):
        await seed.add_team_member(sandbox, owner, slug, "alice")
        await seed.give_team_access(sandbox, owner, slug, f"{owner}/{name}", "triage")
    code, out = await run()
    assert code == 0, out
    assert f"ok (its roles checked on {owner}/{name})" in out.splitlines()[0]


def test_sandbox_command_from_readme(tmp_path: Path) -> None:
    command = readme_command("release-train sandbox")
    assert "var/sandbox" in command
    argv = shlex.split(command.replace("var/sandbox", str(tmp_path / "sandbox")))
    proc = subprocess.Popen(argv, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert set(ready) >= {"api_url", "app_id", "private_key_path", "webhook_url"}
        assert isinstance(ready["app_id"], int) and not ready["api_url"].endswith("/")
        assert Path(ready["private_key_path"]).exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_make_demo_is_the_installed_command_that_test_wheel_plays() -> None:
    """`make demo` runs `release-train demo` from the project's venv; tests/test_wheel.py plays that command
    from the built wheel, in an empty folder (running it from the checkout as well would only repeat it)."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "$(BIN)/release-train demo" in recipe
    wheel_test = (ROOT / "tests" / "test_wheel.py").read_text()
    assert '"release-train", "demo"' in wheel_test


def readme_command(prefix: str) -> str:
    """The README's one command that starts with `prefix`: a test that runs it fails when it is gone."""
    found = [c for c in console_commands() if c == prefix or c.startswith(prefix + " ")]
    assert len(found) == 1, f"the README shows {len(found)} `{prefix}` commands"
    return found[0]


def test_setup_command_from_readme(tmp_path: Path) -> None:
    # Port 3000 may be taken on a test machine: the page listens where the system says, and writes into tmp_path.
    argv = [*shlex.split(readme_command("release-train setup")), "--port", "0", "--dir", str(tmp_path)]
    proc = subprocess.Popen(argv, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        page = re.search(
            r"Open (http://127\.0\.0\.1:\d+/) to register Release Train as a GitHub App on https://github\.com", line
        )
        assert page, line
        with urllib.request.urlopen(page.group(1), timeout=30) as answer:
            assert b"Public URL where GitHub delivers webhooks" in answer.read()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert list(tmp_path.iterdir()) == []  # nothing is written before GitHub answers


def test_serve_command_from_readme_reads_dotenv(tmp_path: Path) -> None:
    """`serve` in a directory holding setup's .env starts from it alone, and a variable in the environment wins."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "app.pem").write_bytes(key)
    (tmp_path / ".env").write_text(
        f"APP_ID=12\nWEBHOOK_SECRET=s3cret\nPRIVATE_KEY_PATH={tmp_path / 'app.pem'}\n"
        "GITHUB_API_URL=http://127.0.0.1:9\nPORT=1\n"
    )
    port = free_port()
    env = {k: v for k, v in _env().items() if k not in ("APP_ID", "WEBHOOK_SECRET", "PRIVATE_KEY", "PRIVATE_KEY_PATH")}
    env.update(
        {
            "PORT": str(port),  # wins over .env's PORT=1
            "HOST": "127.0.0.1",
            "STATE_URL": f"sqlite:///{tmp_path}/q.db",
            "REDELIVERY_INTERVAL_SECONDS": "0",
            "SWEEP_INTERVAL_SECONDS": "0",
        }
    )
    server = subprocess.Popen(
        shlex.split(readme_command("release-train serve")),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        healthy = False
        for _ in range(300):
            if server.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                    healthy = answer.status == 200
                    break
            except OSError:
                time.sleep(0.1)
        assert healthy, server.stderr.read().decode()[-2000:] if server.poll() is not None else "never healthy"  # type: ignore[union-attr]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    # Without an app id anywhere, serve says how to get one.
    (tmp_path / ".env").write_text("WEBHOOK_SECRET=s3cret\n")
    refused = subprocess.run(
        shlex.split(readme_command("release-train serve")),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "`release-train setup` registers one" in refused.stderr


def test_manifest_command_from_readme() -> None:
    command = readme_command("release-train manifest")
    result = subprocess.run(shlex.split(command), cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    url = shlex.split(command)[shlex.split(command).index("--url") + 1]
    assert manifest["hook_attributes"]["url"] == url + "/webhook"
    assert manifest["callback_urls"] == [url + "/login/callback"]
    assert manifest["redirect_url"].endswith("/callback") and manifest["setup_url"].endswith("/installed")


# The tutorial, in the README's order. Each is run as written, with the port 8000 and var/try made the test's own.
TUTORIAL = [
    "release-train sandbox --seed example --port 8000 --state-dir var/try",
    """curl -sS -H 'Authorization: token dev' http://127.0.0.1:8000/repos/acme/shop/pulls -d '{"title": "FR-9: gift cards", "head": "fr/FR-9-gift-cards", "base": "devel"}'""",
    """curl -sS -H 'Authorization: token pam' http://127.0.0.1:8000/repos/acme/shop/issues/3/labels -d '{"labels": ["fr/ready"]}'""",
    """curl -sS -X PUT -H 'Authorization: token rita' http://127.0.0.1:8000/repos/acme/shop/pulls/3/merge -d '{"merge_method": "merge"}'""",
    """curl -sS -H 'Authorization: token rita' http://127.0.0.1:8000/repos/acme/shop/issues/3/comments -d '{"body": "/cut-rc"}'""",
    "SHA=$(curl -sS -H 'Accept: application/vnd.github.sha' http://127.0.0.1:8000/repos/acme/shop/commits/rc/1.5)",
    """curl -sS http://127.0.0.1:8000/_sandbox/ci/acme/shop/check-runs -d '{"name": "sanity", "app_slug": "acme-ci", "status": "completed", "conclusion": "success", "head_sha": "'$SHA'"}'""",
    """curl -sS http://127.0.0.1:8000/_sandbox/ci/acme/shop/check-runs -d '{"name": "nightly", "app_slug": "acme-ci", "status": "completed", "conclusion": "success", "head_sha": "'$SHA'"}'""",
    """curl -sS -H 'Authorization: token quinn' http://127.0.0.1:8000/repos/acme/shop/issues/4/comments -d '{"body": "/regression pass"}'""",
    """curl -sS -H 'Authorization: token rita' http://127.0.0.1:8000/repos/acme/shop/issues/4/comments -d '{"body": "/promote"}'""",
]


def tutorial_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Try it in five minutes", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S)]


def test_every_tutorial_command_is_in_the_readme_in_order() -> None:
    shown = tutorial_commands()
    missing = [command for command in TUTORIAL if command not in shown]
    assert missing == [], f"tutorial commands this test runs but the README no longer shows: {missing}"
    assert shown == TUTORIAL, "the README's tutorial shows commands this test does not run, or in another order"


class Shell:
    """One bash, fed the tutorial's commands one at a time, as a person types them (variables carry over)."""

    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def run(self, command: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\nrc=$?; printf '\\n__done__%s\\n' \"$rc\"\n")
        self.proc.stdin.flush()
        lines = []
        for line in self.proc.stdout:
            if line.startswith("__done__"):
                assert line.strip() == "__done__0", (command, "".join(lines))
                return "".join(lines)
            lines.append(line)
        raise AssertionError(f"bash ended during {command}")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _get(api: str, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(api + path, headers={"Authorization": "token alice"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, None


def _until(what: str, probe: Callable[[], Any]) -> Any:
    """Poll probe() until it returns something truthy: the bot acts on a webhook a moment after curl returns."""
    for _ in range(600):
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"the tutorial's outcome never came: {what}")


def _check(api: str, ref: str, name: str) -> str | None:
    status, body = _get(api, f"/repos/acme/shop/commits/{ref}/check-runs?check_name={name}")
    runs = [r for r in body["check_runs"] if r["app"]["slug"] == "release-train"] if status == 200 else []
    return max(runs, key=lambda r: r["id"]).get("conclusion") if runs else None


@pytest.mark.slow
def test_the_tutorial_plays_as_written(tmp_path: Path) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}"

    def ours(command: str) -> str:
        return command.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace("--port 8000", f"--port {port}")

    seed_argv = shlex.split(ours(TUTORIAL[0]).replace("var/try", str(tmp_path / "try")))
    server = subprocess.Popen(
        seed_argv,
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    shell = Shell(tmp_path)
    try:
        assert server.stdout is not None
        ready = json.loads(server.stdout.readline())
        assert ready["api_url"] == api
        told = "".join(server.stdout.readline() for _ in range(4))
        assert f"Open {api}/_html/acme/shop" in told and "rc/1.4 (tracking issue #2)" in told, told

        # 2. The FR's PR: merge-rules fails, since the FR has no sign-off.
        pr = json.loads(shell.run(ours(TUTORIAL[1])))
        assert pr["number"] == 3 and pr["html_url"] == f"{api}/_html/acme/shop/pull/3"
        head = pr["head"]["sha"]
        assert _until("merge-rules on the FR", lambda: _check(api, head, "release-train/merge-rules")) == "failure"
        # 3. PdM's label passes it; the RTE merges.
        shell.run(ours(TUTORIAL[2]))
        _until("merge-rules passes", lambda: _check(api, head, "release-train/merge-rules") == "success")
        assert json.loads(shell.run(ours(TUTORIAL[3])))["merged"] is True
        # 4. The cut: rc/1.5, and the tracking issue #4.
        shell.run(ours(TUTORIAL[4]))
        _until("rc/1.5 is cut", lambda: _get(api, "/repos/acme/shop/branches/rc/1.5")[0] == 200)
        assert _until("the tracking issue", lambda: _get(api, "/repos/acme/shop/issues/4")[1])["title"] == "Release 1.5"
        # 5. CI on the RC's head, and QA's regression: the gate passes.
        shell.run(ours(TUTORIAL[5]))
        rc_head = _get(api, "/repos/acme/shop/branches/rc/1.5")[1]["commit"]["sha"]
        shown = shell.run('echo "$SHA"').strip()
        assert shown == rc_head, (
            shown,
            rc_head,
            _get(api, "/repos/acme/shop/commits?sha=rc/1.5&per_page=5")[1],
            _get(api, "/repos/acme/shop/branches/devel")[1]["commit"]["sha"],
        )
        for command in TUTORIAL[6:8]:
            assert json.loads(shell.run(ours(command)))["head_sha"] == rc_head
        shell.run(ours(TUTORIAL[8]))
        _until("the gate passes", lambda: _check(api, rc_head, "release-train/gate") == "success")
        # 6. The promotion: tag, release, production, hand-off.
        shell.run(ours(TUTORIAL[9]))
        release = _until("v1.5.0 is released", lambda: _get(api, "/repos/acme/shop/releases/tags/v1.5.0")[1])
        assert release["html_url"] == f"{api}/_html/acme/shop/releases/tag/v1.5.0"
        # The release comes before production moves, in /promote's order: wait for each.
        _until(
            "production moves", lambda: _get(api, "/repos/acme/shop/branches/production")[1]["commit"]["sha"] == rc_head
        )
        handoff = _until(
            "the hand-off",
            lambda: [
                c
                for c in _get(api, "/repos/acme/shop/issues/4/comments?per_page=100")[1]
                if "@acme/rops" in c["body"] and "@acme/fe" in c["body"]
            ],
        )
        assert handoff[0]["user"]["login"] == "release-train[bot]"
        # The pages the README names open in the web view.
        for page in ("", "/pull/3", "/issues/4", "/releases/tag/v1.5.0"):
            with urllib.request.urlopen(f"{api}/_html/acme/shop{page}", timeout=30) as answer:
                assert answer.status == 200 and answer.headers.get_content_type() == "text/html"
    finally:
        shell.close()
        os.killpg(server.pid, signal.SIGTERM)
        assert server.wait(timeout=30) == 0
