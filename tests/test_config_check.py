"""The release-train/config check: pure verdicts, then PRs and pushes that change the file, through the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import CONFIG_PATH
from bot.handlers.config_check import config_verdict
from bot.repo_config import push_touches_config
from bot.sandbox import seed
from bot.sandbox.harness import World
from guard_story import FULL, NAME, ORG

VALID = "roles:\n  qa: [quinn]\n"
BROKEN = """\
roles:
  qa: [quinn]
labels:
  verfied: done
merge_rules:
  fr_ticket_pattern: "(FR-"
"""


def test_verdict_for_a_valid_file():
    verdict = config_verdict(VALID, None, removed=False, default_branch="devel")
    assert (verdict.conclusion, verdict.title, verdict.annotations) == ("success", "Configuration is valid", ())


def test_verdict_for_a_broken_file_annotates_each_line():
    verdict = config_verdict(BROKEN, None, removed=False, default_branch="devel")
    assert verdict.conclusion == "failure"
    assert verdict.title == "Configuration has 2 problems"
    assert "Until a valid version is on `devel`" in verdict.summary
    assert "- line 4: labels.verfied: unknown key (did you mean 'verified'?)" in verdict.summary
    assert verdict.annotations == (
        {
            "path": CONFIG_PATH,
            "start_line": 4,
            "end_line": 4,
            "annotation_level": "failure",
            "title": "labels.verfied",
            "message": "labels.verfied: unknown key (did you mean 'verified'?)",
        },
        {
            "path": CONFIG_PATH,
            "start_line": 6,
            "end_line": 6,
            "annotation_level": "failure",
            "title": "merge_rules.fr_ticket_pattern",
            "message": "merge_rules.fr_ticket_pattern: is not a valid regular expression: missing ): (FR-",
        },
    )


def test_verdict_for_invalid_yaml_and_a_removed_file():
    verdict = config_verdict("a: [\n", None, removed=False, default_branch="main")
    assert verdict.title == "Configuration has 1 problem"
    assert verdict.annotations[0]["start_line"] == 2 and verdict.annotations[0]["title"] == "configuration"
    assert config_verdict(None, None, removed=True, default_branch="main").conclusion == "success"


def commit(*added: str, modified: tuple[str, ...] = (), removed: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"added": list(added), "modified": list(modified), "removed": list(removed)}


PUSH_CASES = [
    ("changed", {"commits": [commit("a.py"), commit(modified=(CONFIG_PATH,))]}, True),
    ("added", {"commits": [commit(CONFIG_PATH)]}, True),
    ("removed", {"commits": [commit(removed=(CONFIG_PATH,))]}, True),
    ("untouched", {"commits": [commit("a.py", modified=(".github/other.yml",))]}, False),
    ("forced", {"forced": True, "commits": [commit("a.py")]}, None),
    ("no commits listed", {"commits": []}, None),
    ("more than GitHub lists", {"commits": [commit("a.py")] * 20}, None),
    ("file lists missing", {"commits": [{"id": "x"}]}, None),
]


@pytest.mark.parametrize("name,push,touched", PUSH_CASES, ids=[c[0] for c in PUSH_CASES])
def test_push_touches_config(name, push, touched):
    assert push_touches_config(push) is touched


# -- through the sandbox ---------------------------------------------------------------------------


async def repo(world: World) -> None:
    await seed.create_org_repo(
        world, ORG, NAME, admin="alice", files={"README.md": "# app\n", CONFIG_PATH: VALID}, default_branch="devel"
    )
    await seed.grant(world, FULL, "dana", "write")
    await world.settle()


async def config_runs(world: World, sha: str) -> list[dict[str, Any]]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/commits/{sha}/check-runs?check_name=release-train/config")
    assert answer.status == 200, answer.body
    return answer.body["check_runs"]


async def annotations(world: World, run: dict[str, Any]) -> list[dict[str, Any]]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/check-runs/{run['id']}/annotations")
    assert answer.status == 200, answer.body
    return answer.body


async def pr_changing(world: World, branch: str, files: dict[str, str | None], base: str = "devel") -> str:
    await seed.create_branch(world, "dana", FULL, branch, "devel")
    sha = await seed.commit(world, "dana", FULL, branch, files, f"Change {branch}")
    await seed.open_pr(world, "dana", FULL, head=branch, base=base, title=f"Change {branch}")
    await world.settle()
    return sha


async def test_a_pr_with_a_broken_config_gets_a_failing_check_with_annotations(world: World):
    await repo(world)
    sha = await pr_changing(world, "config-typo", {CONFIG_PATH: BROKEN})
    [run] = await config_runs(world, sha)
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert run["output"]["title"] == "Configuration has 2 problems"
    found = [
        (a["path"], a["start_line"], a["end_line"], a["annotation_level"], a["message"])
        for a in await annotations(world, run)
    ]
    assert found == [
        (CONFIG_PATH, 4, 4, "failure", "labels.verfied: unknown key (did you mean 'verified'?)"),
        (
            CONFIG_PATH,
            6,
            6,
            "failure",
            "merge_rules.fr_ticket_pattern: is not a valid regular expression: missing ): (FR-",
        ),
    ]
    # A fix pushed to the PR turns it green on the new head.
    fixed = await seed.commit(
        world, "dana", FULL, "config-typo", {CONFIG_PATH: VALID + "labels:\n  verified: done\n"}, "Fix"
    )
    await world.settle()
    [run] = await config_runs(world, fixed)
    assert (run["conclusion"], run["output"]["title"]) == ("success", "Configuration is valid")


async def test_prs_that_do_not_change_the_config_get_no_check(world: World):
    await repo(world)
    sha = await pr_changing(world, "fix-login", {"login.py": "ok\n"})
    assert await config_runs(world, sha) == []
    # Only the default branch's file is read: a PR into an RC branch does not change the bot's config.
    await seed.create_branch(world, "alice", FULL, "rc/1.5", "devel")
    sha = await pr_changing(world, "rc-config", {CONFIG_PATH: BROKEN}, base="rc/1.5")
    assert await config_runs(world, sha) == []


async def test_prs_into_devel_are_checked_when_devel_is_not_the_default_branch(world: World):
    await seed.create_org_repo(
        world, ORG, NAME, admin="alice", files={"README.md": "# app\n", CONFIG_PATH: VALID}, default_branch="main"
    )
    await seed.grant(world, FULL, "dana", "write")
    await seed.create_branch(world, "alice", FULL, "devel", "main")
    await world.settle()
    sha = await pr_changing(world, "config-typo", {CONFIG_PATH: BROKEN})
    [run] = await config_runs(world, sha)
    assert run["conclusion"] == "failure"
    assert "Until a valid version is on `main`" in run["output"]["summary"]


async def test_a_pr_removing_the_config_passes(world: World):
    await repo(world)
    sha = await pr_changing(world, "drop-config", {CONFIG_PATH: None})
    [run] = await config_runs(world, sha)
    assert (run["conclusion"], run["output"]["title"]) == ("success", "No configuration file: the defaults apply")


async def test_a_push_of_a_broken_config_to_the_default_branch_is_checked(world: World):
    await repo(world)
    broken = await seed.put_config(world, "alice", FULL, BROKEN)
    await world.settle()
    [run] = await config_runs(world, broken)
    assert run["conclusion"] == "failure"
    assert [a["start_line"] for a in await annotations(world, run)] == [4, 6]
    fixed = await seed.put_config(world, "alice", FULL, VALID)
    other = await seed.commit(world, "alice", FULL, "devel", {"README.md": "# app 2\n"}, "Docs")
    await world.settle()
    [run] = await config_runs(world, fixed)
    assert run["conclusion"] == "success"
    assert await config_runs(world, other) == [], "a push that leaves the file alone is not checked"


async def test_the_check_is_posted_once_under_failing_answers_and_duplicate_deliveries(world: World):
    await repo(world)
    answer = await world.call(
        None,
        "POST",
        "/_sandbox/faults",
        {"api": 0.2, "after": 0.5, "seed": 5, "retry_after": 0, "duplicate": 0.5, "reorder": 0.3},
    )
    assert answer.status == 200, answer.body
    sha = await pr_changing(world, "config-typo", {CONFIG_PATH: BROKEN})
    await world.call(None, "POST", "/_sandbox/faults", {})
    runs = await config_runs(world, sha)
    assert [r["conclusion"] for r in runs] == ["failure"]
    assert [a["start_line"] for a in await annotations(world, runs[0])] == [4, 6]
