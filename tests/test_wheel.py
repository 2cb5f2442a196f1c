"""The built wheel alone runs the CLI: installed into a fresh venv and run from an empty folder, no checkout beside it.

The wheel is built from the checkout's files (tracked and new, as `git ls-files` lists them, so a
stale `build/` can leave nothing in it) with uv, installed with its dependencies into a new venv,
and each command runs with that venv first on PATH, in an empty folder outside the checkout. uv
keeps the dependencies' wheels in its cache, so only a machine's first run fetches them from PyPI,
and building and installing cost a few seconds. This test is also the one that plays the demo:
`make demo` is `release-train demo` run from the project's own venv.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from gidgethub import apps

from demo_story import assert_story

ROOT = Path(__file__).resolve().parents[1]
UV = [str(Path(sys.executable).parent / "uv"), "--quiet"]

CONFIG = """\
branches:
  production: production
roles:
  qa: ["@acme/qa"]
  rte: ["@acme/release-engineers"]
gate:
  required_checks: [sanity, {name: nightly, app: acme-ci}, regression]
"""


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    empty: Path  # an empty folder outside the checkout, the commands' working directory

    def env(self) -> dict[str, str]:
        outside = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not p.startswith(str(ROOT))]
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        env["PATH"] = os.pathsep.join([str(self.venv / "bin"), *outside])
        return env

    def run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv), cwd=self.empty, env=self.env(), capture_output=True, text=True, timeout=timeout
        )


def checkout_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and os.path.lexists(ROOT / name)]


def build_wheel(out: Path) -> Path:
    source = out / "source"
    for name in checkout_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target, follow_symlinks=False)
    dist = out / "dist"
    subprocess.run([*UV, "build", "--wheel", "--out-dir", str(dist), str(source)], check=True, timeout=300)
    (wheel,) = dist.glob("release_train-*.whl")
    return wheel


def install(wheel: Path, venv: Path) -> None:
    """A new venv on this interpreter, with the wheel and its dependencies (from uv's cache when it holds them)."""
    subprocess.run([*UV, "venv", "--python", sys.executable, str(venv)], check=True, timeout=120)
    into = [*UV, "pip", "install", "--python", str(venv / "bin" / "python"), str(wheel)]
    if subprocess.run([*into, "--offline"], capture_output=True, timeout=300).returncode != 0:
        subprocess.run(into, check=True, timeout=600)  # first run on this machine: from PyPI


@pytest.mark.slow
def test_the_installed_wheel_runs_every_command_from_an_empty_folder(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "bot/app.yml" in names
    # The web view's pages and GitHub's Primer CSS, with its licence, ship as package data.
    assert {"bot/sandbox/static/primer/primer.css", "bot/sandbox/static/primer/LICENSE"} <= set(names)
    assert "bot/sandbox/templates/pages/pull.html" in names
    assert any(re.fullmatch(r"release_train-[^/]+\.dist-info/licenses/LICENSE", n) for n in names), names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    install(wheel, tmp_path / "venv")
    empty = tmp_path / "empty"
    empty.mkdir()
    installed = Installed(wheel, tmp_path / "venv", empty)

    # The package is the venv's, and nothing of the checkout is on the path.
    probe = "import bot, sys; print(bot.__file__); print(any(p.startswith(sys.argv[1]) for p in sys.path))"
    result = installed.run(str(installed.venv / "bin" / "python"), "-c", probe, str(ROOT))
    assert result.returncode == 0, result.stderr
    where, checkout_on_path = result.stdout.split()
    assert Path(where).is_relative_to(installed.venv) and checkout_on_path == "False"

    # The demo plays a whole release and exits non-zero when an outcome is wrong.
    demo = installed.run("release-train", "demo", timeout=600)
    assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-4000:]
    assert "release v1.5.0 promoted" in demo.stdout.lower()
    assert_story(demo.stdout.splitlines())

    sandbox_serves_the_shipped_manifest(installed)

    config = empty / ".github" / "release-train.yml"
    missing = installed.run("release-train", "check-config")
    assert missing.returncode == 2 and "no such file" in missing.stderr
    config.parent.mkdir()
    config.write_text(CONFIG)
    ok = installed.run("release-train", "check-config")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "and /promote fast-forwards production.\n" in ok.stdout
    config.write_text("gate:\n  required_chekcs: [sanity]\n")
    broken = installed.run("release-train", "check-config")
    assert broken.returncode == 1 and "line 2" in broken.stdout, broken.stdout

    printed = installed.run("release-train", "manifest", "--url", "https://rt.example.com")
    assert printed.returncode == 0, printed.stderr
    manifest = json.loads(printed.stdout)
    assert manifest["hook_attributes"]["url"] == "https://rt.example.com/webhook"
    assert (
        manifest["default_permissions"] == yaml.safe_load((ROOT / "bot" / "app.yml").read_text())["default_permissions"]
    )


def sandbox_serves_the_shipped_manifest(installed: Installed) -> None:
    argv = ["release-train", "sandbox", "--port", "0", "--state-dir", "sandbox-state"]
    proc = subprocess.Popen(argv, cwd=installed.empty, env=installed.env(), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        key = installed.empty / ready["private_key_path"]  # the state dir is relative to where it runs
        token = apps.get_jwt(app_id=str(ready["app_id"]), private_key=key.read_text())
        request = urllib.request.Request(ready["api_url"] + "/app", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            app = json.loads(answer.read())
        shipped = yaml.safe_load((ROOT / "bot" / "app.yml").read_text())
        assert app["permissions"] == shipped["default_permissions"]
        assert app["events"] == sorted(shipped["default_events"])
        with urllib.request.urlopen(ready["api_url"] + "/_html/_static/primer.css", timeout=30) as answer:
            assert answer.read() == (ROOT / "bot" / "sandbox" / "static" / "primer" / "primer.css").read_bytes()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
