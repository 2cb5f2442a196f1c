"""release-train check-config: errors with their lines and exit 1, ok and exit 0, a missing file exit 2."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from bot.__main__ import main
from bot.sandbox import seed
from bot.sandbox.harness import World

PROJECT = Path(__file__).resolve().parents[1]


def test_valid_file_prints_ok_and_a_summary(tmp_path, capsys):
    path = tmp_path / "release-train.yml"
    path.write_text('roles:\n  qa: ["@acme/qa", carol]\ngate:\n  required_checks: [sanity, {name: e2e, app: ci}]\n')
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: ok\n")
    assert "  The QA role is held by members of @acme/qa or @carol.\n" in out
    assert "  The RTE role is held by the repository's admins and maintainers.\n" in out
    assert "  The gate requires sanity and e2e (from the app ci) to pass on the RC head, without a sign-off.\n" in out
    # sanity names no app, so any writer can post it; e2e is pinned
    [warning] = [line for line in out.splitlines() if line.startswith("  warning: ")]
    assert "(sanity): any writer can post them" in warning and "e2e" not in warning


def test_each_error_is_printed_with_its_line_and_exit_1(tmp_path, capsys):
    path = tmp_path / "release-train.yml"
    path.write_text("labels:\n  verfied: x\nbranches:\n  devel: 1.5\nmerge_rules:\n  fr_ticket_pattern: '(x'\n")
    assert main(["check-config", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{path}: line 2: labels.verfied: unknown key (did you mean 'verified'?)",
        f'{path}: line 4: branches.devel: expected text, got the number 1.5 (quote it: "1.5")',
        f"{path}: line 6: merge_rules.fr_ticket_pattern: is not a valid regular expression: missing ): (x",
        f"{path}: 3 errors",
    ]


def test_invalid_yaml_names_the_line(tmp_path, capsys):
    path = tmp_path / "release-train.yml"
    path.write_text("labels:\n  verified: qa/ok\n bug: x\n")
    assert main(["check-config", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: line 3: invalid YAML:")


def test_missing_file_exits_2(tmp_path, capsys):
    assert main(["check-config", str(tmp_path / "absent.yml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["check-config", str(tmp_path)]) == 2


def test_empty_file_is_all_defaults(tmp_path, capsys):
    path = tmp_path / "release-train.yml"
    path.write_text("# nothing set yet\n")
    assert main(["check-config", str(path)]) == 0
    assert (
        "  QA marks a fix verified with qa/verified, PdM or the RTE marks a feature ready with fr/ready, "
        "and cherry-pick/1.5 asks for a pick into rc/1.5.\n"
    ) in capsys.readouterr().out


def test_default_path_and_the_real_command_line(tmp_path):
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "release-train.yml").write_text("cherry_pick:\n  auto_merge_method: fast\n")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check-config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(PROJECT), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[0] == (
        ".github/release-train.yml: line 2: cherry_pick.auto_merge_method: "
        "must be one of 'merge', 'squash', 'rebase', got 'fast'"
    )
    assert done.stderr == ""


# -- --repo: the roles' names looked up on GitHub (the sandbox) ---------------------------------------

ROLES = """\
roles:
  qa: ["@acme/qa-team"]
  rte: [rita]
"""


async def roles_repo(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice", files={"README.md": "# app\n"})
    await seed.grant(sandbox, "acme/app", "rita", "maintain")


async def check_config(sandbox: World, path: Path, *args: str, **env: str) -> tuple[int, str, str]:
    """The real command line, run while the sandbox keeps answering (so not subprocess.run)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check-config",
        str(path),
        *args,
        cwd=path.parent,
        env={"PYTHONPATH": str(PROJECT), "PATH": "/usr/bin:/bin", "GITHUB_API_URL": sandbox.api_url, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, stdout.decode(), stderr.decode()


def app_credentials(sandbox: World) -> dict[str, str]:
    return {
        "APP_ID": str(sandbox.sandbox.config.app_id),
        "PRIVATE_KEY_PATH": str(sandbox.sandbox.config.private_key_path),
    }


async def test_repo_names_a_missing_team_with_its_line_and_exits_1(sandbox: World, tmp_path: Path):
    await roles_repo(sandbox)
    path = tmp_path / "release-train.yml"
    path.write_text(ROLES)
    code, out, err = await check_config(sandbox, path, "--repo", "acme/app", **app_credentials(sandbox))
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        f"{path}: line 2: roles.qa[0]: @acme/qa-team: acme has no team 'qa-team' that the app can see, "
        "so no one holds the QA role through it",
        f"{path}: 1 error",
    ]
    # Offline, the same file is valid: only GitHub can tell that the team is missing, and it says so.
    code, out, _ = await check_config(sandbox, path)
    assert code == 0 and out.startswith(f"{path}: ok\n")
    assert out.endswith("  note: the names in roles were not looked up on GitHub; --repo OWNER/NAME does that\n")


async def test_repo_passes_a_good_config_as_the_app_and_with_a_token(sandbox: World, tmp_path: Path):
    await roles_repo(sandbox)
    await seed.add_team_member(sandbox, "acme", "qa-team", "quinn")
    await seed.give_team_access(sandbox, "acme", "qa-team", "acme/app", "triage")
    path = tmp_path / "release-train.yml"
    path.write_text(ROLES)
    code, out, err = await check_config(sandbox, path, "--repo", "acme/app", **app_credentials(sandbox))
    assert (code, err) == (0, "")
    assert out.startswith(f"{path}: ok (its roles checked on acme/app)\n")
    assert "note:" not in out
    assert "  The QA role is held by members of @acme/qa-team.\n" in out
    # A person's token (in the sandbox, `token <login>` acts as that login) sees the same.
    code, out, err = await check_config(sandbox, path, "--repo", "acme/app", GITHUB_TOKEN="alice")
    assert (code, err) == (0, "")


async def test_repo_without_credentials_or_installation_says_what_is_missing(sandbox: World, tmp_path: Path):
    await roles_repo(sandbox)
    path = tmp_path / "release-train.yml"
    path.write_text(ROLES)
    code, out, err = await check_config(sandbox, path, "--repo", "acme/app")
    assert (code, out) == (2, "")
    assert err == (
        "release-train check-config: --repo needs credentials: set GITHUB_TOKEN, or APP_ID with "
        "PRIVATE_KEY_PATH (or PRIVATE_KEY)\n"
    )
    code, _, err = await check_config(sandbox, path, "--repo", "acme/elsewhere", **app_credentials(sandbox))
    assert code == 2 and "the app" in err and "is not installed on acme/elsewhere" in err
    code, _, err = await check_config(sandbox, path, "--repo", "acme/elsewhere", GITHUB_TOKEN="alice")
    assert code == 2 and "acme/elsewhere: no such repository, or these credentials cannot see it" in err
    code, _, err = await check_config(sandbox, path, "--repo", "acme", GITHUB_TOKEN="alice")
    assert code == 2 and "--repo takes owner/name, got 'acme'" in err
