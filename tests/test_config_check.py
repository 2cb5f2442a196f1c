"""The release-train/config check: pure verdicts, then PRs and pushes that change the file, through the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import CONFIG_PATH, ConfigError
from bot.handlers.config_check import config_verdict
from bot.repo_config import push_touches_config
from bot.rules.role_members import RoleFindings
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


def test_verdict_for_a_valid_file_reads_as_sentences():
    verdict = config_verdict(
        "roles:\n  qa: ['@acme/qa']\ngate:\n  required_checks: [regression, nightly]\n",
        None,
        removed=False,
        default_branch="devel",
    )
    paragraphs = verdict.summary.split("\n\n")
    assert paragraphs[0] == "`.github/release-train.yml` is valid."
    assert "The QA role is held by members of `@acme/qa`." in paragraphs[1].splitlines()
    assert "The gate requires QA's `regression` and `nightly` to pass on the RC head, without a sign-off." in (
        paragraphs[1].splitlines()
    )
    assert paragraphs[2].startswith("Required checks with no `app:` (`nightly`)")
    assert "branches: devel devel" not in verdict.summary


ROLE_ERROR = ConfigError(2, "roles.qa[0]", "@acme/qa-team: acme has no team 'qa-team' that the app can see")
UNCHECKED = ConfigError(3, "roles.rte[0]", "@acme/rte could not be checked: GitHub answered 403")
ROLES_TEXT = "roles:\n  qa: ['@acme/qa-team']\n  rte: ['@acme/rte']\n"
VERDICT_CASES = [
    ("nothing looked up", ROLES_TEXT, RoleFindings(), "success", "Configuration is valid", [], False),
    (
        "a name that fails",
        ROLES_TEXT,
        RoleFindings((ROLE_ERROR,)),
        "failure",
        "Configuration has 1 problem",
        [2],
        False,
    ),
    ("a name not checked", ROLES_TEXT, RoleFindings((), (UNCHECKED,)), "success", "Configuration is valid", [], True),
    (
        "both",
        ROLES_TEXT,
        RoleFindings((ROLE_ERROR,), (UNCHECKED,)),
        "failure",
        "Configuration has 1 problem",
        [2],
        True,
    ),
    # a file with errors of its own is not judged by its names
    ("broken file", BROKEN, RoleFindings((ROLE_ERROR,)), "failure", "Configuration has 2 problems", [4, 6], False),
]


@pytest.mark.parametrize(
    "name,text,roles,conclusion,title,lines,unchecked", VERDICT_CASES, ids=[c[0] for c in VERDICT_CASES]
)
def test_verdict_with_what_github_said_of_the_roles(name, text, roles, conclusion, title, lines, unchecked):
    verdict = config_verdict(text, None, removed=False, default_branch="devel", roles=roles)
    assert (verdict.conclusion, verdict.title) == (conclusion, title)
    assert [a["start_line"] for a in verdict.annotations] == lines
    assert (
        "Not checked:\n- line 3: roles.rte[0]: @\u200dacme/rte could not be checked" in verdict.summary
    ) is unchecked


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
    await seed.grant(world, FULL, "quinn", "triage")  # VALID's QA
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
    await seed.grant(world, FULL, "quinn", "triage")
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


# -- roles that name nobody, through the sandbox ---------------------------------------------------

ROLES = """\
roles:
  qa: ["@acme/qa-team"]
  rte: [rita]
  pdm: ["@acme/product", pam]
"""


async def roles_repo(world: World, *, private: bool = False) -> None:
    await seed.create_org_repo(
        world,
        ORG,
        NAME,
        admin="alice",
        files={"README.md": "# app\n", CONFIG_PATH: VALID},
        default_branch="devel",
        private=private,
    )
    await seed.grant(world, FULL, "quinn", "triage")
    await seed.grant(world, FULL, "rita", "maintain")
    await seed.grant(world, FULL, "pam", "write")
    await seed.add_team_member(world, ORG, "product", "pat")
    await seed.give_team_access(world, ORG, "product", FULL, "triage")
    await world.settle()


async def test_a_role_naming_a_missing_team_fails_the_config_check_on_its_line(world: World):
    await roles_repo(world)
    sha = await seed.put_config(world, "alice", FULL, ROLES)
    await world.settle()
    [run] = await config_runs(world, sha)
    assert (run["conclusion"], run["output"]["title"]) == ("failure", "Configuration has 1 problem")
    [found] = await annotations(world, run)
    assert (found["start_line"], found["title"]) == (2, "roles.qa[0]")
    assert found["message"] == (
        "roles.qa[0]: @acme/qa-team: acme has no team 'qa-team' that the app can see, "
        "so no one holds the QA role through it"
    )
    # The summary repeats it without pinging the team (a zero-width joiner after the @).
    assert "- line 2: roles.qa[0]: @\u200dacme/qa-team: acme has no team" in run["output"]["summary"]

    # Control: once the team exists and has access to the repository, the same file passes.
    await seed.add_team_member(world, ORG, "qa-team", "quinn")
    await seed.give_team_access(world, ORG, "qa-team", FULL, "triage")
    again = await seed.put_config(world, "alice", FULL, ROLES + "# the team exists now\n")
    await world.settle()
    [run] = await config_runs(world, again)
    assert (run["conclusion"], run["output"]["title"]) == ("success", "Configuration is valid")
    assert "The QA role is held by members of `@acme/qa-team`." in run["output"]["summary"]


async def test_a_team_without_access_and_a_missing_user_are_named_on_a_pr(world: World):
    await roles_repo(world)
    await seed.add_team_member(world, ORG, "qa-team", "quinn")  # the team exists, but has no access
    await seed.grant(world, FULL, "dana", "write")
    sha = await pr_changing(world, "roles", {CONFIG_PATH: ROLES.replace("[rita]", "[rita, ritta]")})
    [run] = await config_runs(world, sha)
    assert run["conclusion"] == "failure"
    found = [(a["start_line"], a["message"]) for a in await annotations(world, run)]
    assert found == [
        (
            2,
            "roles.qa[0]: @acme/qa-team has no access to acme/app, so the QA role cannot act there: "
            "give the team access (Settings, Collaborators and teams)",
        ),
        (
            3,
            "roles.rte[1]: @ritta: there is no GitHub user 'ritta', so no one holds the RTE role through it",
        ),
    ]


async def test_a_person_without_access_to_a_private_repository_is_named(world: World):
    await roles_repo(world, private=True)
    await seed.add_team_member(world, ORG, "qa-team", "quinn")
    await seed.give_team_access(world, ORG, "qa-team", FULL, "triage")
    await seed.add_team_member(world, ORG, "elsewhere", "olga")  # olga exists, with no access to acme/app
    sha = await seed.put_config(world, "alice", FULL, ROLES.replace("pam]", "pam, olga]"))
    await world.settle()
    [run] = await config_runs(world, sha)
    assert run["conclusion"] == "failure"
    [found] = await annotations(world, run)
    assert (found["start_line"], found["title"]) == (4, "roles.pdm[2]")
    assert found["message"].startswith("roles.pdm[2]: @olga has no access to acme/app")


async def test_refresh_on_the_pr_looks_the_names_up_again(world: World):
    await roles_repo(world)
    await seed.grant(world, FULL, "dana", "write")
    sha = await pr_changing(world, "roles", {CONFIG_PATH: ROLES})
    [run] = await config_runs(world, sha)
    assert run["conclusion"] == "failure"
    assert "create the team and give it access, then push again or comment `/refresh`" in run["output"]["summary"]

    # The team is created (by an org admin, outside the bot's sight): the check stays as it was...
    await seed.add_team_member(world, ORG, "qa-team", "quinn")
    await seed.give_team_access(world, ORG, "qa-team", FULL, "triage")
    await world.settle()
    assert [r["conclusion"] for r in await config_runs(world, sha)] == ["failure"]
    # ...until someone with write asks for it again, on the same head.
    pulls = await world.call("dana", "GET", f"/repos/{FULL}/pulls?head={ORG}:roles")
    number = pulls.body[0]["number"]
    await seed.comment(world, "dana", FULL, number, "/refresh")
    await world.settle()
    [run] = await config_runs(world, sha)
    assert (run["conclusion"], run["output"]["title"]) == ("success", "Configuration is valid")
    replies = (await world.call("dana", "GET", f"/repos/{FULL}/issues/{number}/comments")).body
    assert any("Configuration check: Configuration is valid." in c["body"] for c in replies)
