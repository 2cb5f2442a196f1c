"""release-train check-config: errors with their lines and exit 1, ok and exit 0, a missing file exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.__main__ import main

PROJECT = Path(__file__).resolve().parents[1]


def test_valid_file_prints_ok_and_a_summary(tmp_path, capsys):
    path = tmp_path / "release-train.yml"
    path.write_text('roles:\n  qa: ["@acme/qa", carol]\ngate:\n  required_checks: [sanity, {name: e2e, app: ci}]\n')
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: ok\n")
    assert "QA: members of @acme/qa or @carol" in out
    assert "RTE: the repository's admins and maintainers" in out
    assert "gate requires: sanity, e2e (app ci)" in out
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
    assert "verified label: qa/verified; ready label: fr/ready" in capsys.readouterr().out


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
