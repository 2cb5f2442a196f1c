"""Branch and label names with odd characters: no shell, no file path, and every REST path names exactly that thing."""

from __future__ import annotations

import ast
import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bot.sandbox import seed
from bot.sandbox.common import STORE
from bot.sandbox.harness import World
from people_text_checks import assert_no_pings, people_wrote
from release_story import ci_check, new_issue, reply_to, say, tracking_issues

BOT_CODE = Path(__file__).resolve().parent.parent / "bot"
ORG, NAME = "acme", "app"
FULL = f"{ORG}/{NAME}"
BOT = "release-train[bot]"

# Labels may hold anything but a comma; GitHub caps them at 50 characters.
VERIFIED = "qa/verified?x=1#y"
CONFLICT = "pick-conflict ;rm $(id) `w` 'q\" %2F&ü🚀"
HOLD = "hold/../%25 & #1 ?x=`y`"
# Branches may not hold spaces, `?`, `~`, `^`, `:`, `..` (git check-ref-format), but all of these. A developer's
# branch may name someone; the RC and production names come from the admins' configuration, so they do not.
RC_PATTERN = "rc/{version}#$(id);`w`'q'&%41ü"
FR_BRANCH = "fr/FR-7-weird$(x);`y`'q'\"d\"#h&%2F-ü/@acme/qa"
LONG_FR = "fr/FR-8-" + "ü" * 60 + "-" + "x" * 100


def yaml_text(value: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is one)."""
    return json.dumps(value, ensure_ascii=False)


CONFIG = f"""\
branches:
  release_candidate: {yaml_text(RC_PATTERN)}
labels:
  verified: {yaml_text(VERIFIED)}
  conflict: {yaml_text(CONFLICT)}
  hold: {yaml_text(HOLD)}
roles:
  qa: [quinn]
  rte: [rita]
  pdm: [pam]
gate:
  required_checks: [sanity]
"""
ODD_TARGETS = ("cherry-pick/1.4 ; rm -rf ~", "cherry-pick/../../1.4", "cherry-pick/1.4?x=1#y", "cherry-pick/$(id) -->")
RC = RC_PATTERN.replace("{version}", "1.4")


# -- the code itself ------------------------------------------------------------------------------


def bot_modules() -> list[tuple[str, ast.Module]]:
    """Every module of the bot (the sandbox, a stand-in for GitHub, is not the bot)."""
    found = []
    for path in sorted(BOT_CODE.rglob("*.py")):
        relative = path.relative_to(BOT_CODE.parent).as_posix()
        if not relative.startswith("bot/sandbox/"):
            found.append((relative, ast.parse(path.read_text(), relative)))
    return found


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ""


SPAWNING_MODULES = {"subprocess", "pty", "pexpect", "sh", "plumbum"}
SPAWNING_CALLS = re.compile(
    r"(^|\.)(system|popen|spawn\w*|exec[lv]p?e?|fork\w*|posix_spawnp?|create_subprocess_(exec|shell)|subprocess_(exec|shell))$"
)


def test_the_bot_spawns_no_process() -> None:
    offences = []
    for relative, tree in bot_modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                offences += [
                    f"{relative}: import {a.name}" for a in node.names if a.name.split(".")[0] in SPAWNING_MODULES
                ]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in SPAWNING_MODULES:
                offences.append(f"{relative}: from {node.module} import ...")
            elif isinstance(node, ast.Call) and SPAWNING_CALLS.search(dotted(node.func)):
                offences.append(f"{relative}:{node.lineno}: {dotted(node.func)}()")
    assert not offences, offences


# Only these modules touch files, at paths from settings or the command line (the queue's database, the private
# key and .env, the file `check-config` is given, the demo's scratch directory, the manifest the package ships);
# never at a path made from a webhook.
FILE_TOUCHING = {
    "bot/settings.py",
    "bot/queue/sqlite.py",
    "bot/config_cli.py",
    "bot/demo.py",
    "bot/manifest.py",
    "bot/setup/cli.py",  # the directory `setup --dir` names
    "bot/setup/credentials.py",  # the key and .env that setup writes there
}
FILE_CALLS = re.compile(
    r"(^|\.)(open|Path|read_text|read_bytes|write_text|write_bytes|mkdir|unlink|rmtree|mkstemp|TemporaryDirectory|NamedTemporaryFile)$"
)


def test_handlers_rules_and_the_github_door_touch_no_files() -> None:
    offences = []
    for relative, tree in bot_modules():
        if relative in FILE_TOUCHING:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and FILE_CALLS.search(dotted(node.func)):
                offences.append(f"{relative}:{node.lineno}: {dotted(node.func)}()")
            if isinstance(node, ast.ImportFrom) and node.module in ("shutil", "tempfile"):
                offences.append(f"{relative}: from {node.module}")
    assert not offences, offences


GH_METHODS = {"getitem", "getiter", "getstatus", "post", "patch", "put", "delete", "_post", "_request_json"}
# Reserved expansion ({+x}) lets `#`, `?` and `%XX` through unencoded; only constants may use it.
RESERVED_ALLOWED = {
    # A file's path and a ref prefix, whose slashes GitHub wants as they are: each segment is encoded first.
    ("bot/github/repo/contents.py", "path"),
    ("bot/github/repo/git.py", "ref"),
    ("bot/handlers/release/facts.py", "ref"),  # matching-refs/{+ref} with the constant "tags/"
}


def test_every_rest_path_is_a_template_with_encoded_names() -> None:
    offences = []
    for relative, tree in bot_modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in GH_METHODS:
                owner = dotted(node.func.value)
                if owner.endswith("gh") and node.args:
                    url = node.args[0]
                    if isinstance(url, (ast.JoinedStr, ast.BinOp)) or (
                        isinstance(url, ast.Call) and dotted(url.func).endswith("format")
                    ):
                        offences.append(f"{relative}:{node.lineno}: a path built by hand")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("/"):
                for name in re.findall(r"\{\+(\w+)\}", node.value):
                    if (relative, name) not in RESERVED_ALLOWED:
                        offences.append(f"{relative}:{node.lineno}: {{+{name}}} in {node.value}")
    assert not offences, offences


# -- stories through the sandbox ----------------------------------------------------------------------


async def odd_repo(world: World) -> None:
    """acme/app on devel with odd label names configured, and the RC branch rc/1.4#$(id)... cut from devel."""
    await seed.create_org_repo(world, ORG, NAME, admin="alice", files={"app.py": "x = 1\n"}, default_branch="devel")
    await seed.put_config(world, "alice", FULL, CONFIG)
    for login in ("dana", "erin", "quinn", "rita", "pam"):
        await seed.grant(world, FULL, login, "write")
    await seed.create_branch(world, "alice", FULL, RC, "devel")
    await world.settle()


def store_repo(world: World) -> dict[str, Any]:
    return world.app[STORE].repo(ORG, NAME)


def labels_on(world: World, number: int) -> set[str]:
    return set(store_repo(world)["issues"][str(number)]["labels"])


def bot_writes(world: World, since: int) -> list[dict[str, Any]]:
    return [r for r in world.app_requests(since) if r["method"] != "GET"]


def branch_heads(world: World) -> dict[str, str]:
    """Every branch the sandbox's git holds, by name."""
    import subprocess  # the test reads the sandbox's git; the bot never spawns anything

    from bot.sandbox.common import GIT

    bare = world.app[GIT].path(FULL)
    listing = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/heads"],
        cwd=bare,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.rsplit(" ", 1) for line in listing.splitlines())


async def fix_pr(world: World, branch: str, files: dict[str, str | None], title: str) -> int:
    await seed.create_branch(world, "dana", FULL, branch, "devel")
    await seed.commit(world, "dana", FULL, branch, files, title)
    return int((await seed.open_pr(world, "dana", FULL, head=branch, base="devel", title=title))["number"])


async def test_odd_labels_are_removed_exactly_and_nothing_else(world: World) -> None:
    await odd_repo(world)
    number = await fix_pr(world, "fix/one", {"one.txt": "1\n"}, "Fix one")
    # Decoys that a badly encoded path would hit instead: the label cut at `?` or `#`, or the path's parent.
    await seed.add_labels(world, "alice", FULL, number, "qa/verified", "qa/verified?x=1", "qa", "hold")
    await world.settle()
    since = world.last_seq()
    await seed.add_labels(world, "erin", FULL, number, VERIFIED)  # erin is not QA
    await world.settle()
    assert labels_on(world, number) == {"qa/verified", "qa/verified?x=1", "qa", "hold"}
    deletes = [r for r in bot_writes(world, since) if r["method"] == "DELETE"]
    assert [(r["path"], r["status"]) for r in deletes] == [(f"/repos/{FULL}/issues/{number}/labels/{VERIFIED}", 200)]
    guard = [c for c in store_repo(world)["comments"].values() if c["user"] == BOT and c["issue_number"] == number]
    assert len(guard) == 1 and "erin" in guard[0]["body"]
    # QA's own odd label stays.
    await seed.add_labels(world, "quinn", FULL, number, VERIFIED)
    await world.settle()
    assert VERIFIED in labels_on(world, number)
    # Target labels that are not versions are ignored, and no branch is made from them.
    before = branch_heads(world)
    await seed.merge_pr(world, "rita", FULL, number, "squash")
    since = world.last_seq()
    await seed.add_labels(world, "dana", FULL, number, *ODD_TARGETS)
    await world.settle()
    assert branch_heads(world) == {**before, "devel": branch_heads(world)["devel"]}
    failures = [(r["method"], r["path"], r["status"]) for r in world.app_requests(since) if r["status"] >= 400]
    assert failures == [], failures
    notes = [
        c["body"] for c in store_repo(world)["comments"].values() if c["user"] == BOT and "names no RC" in c["body"]
    ]
    assert len(notes) == len(ODD_TARGETS)
    for label in ODD_TARGETS:
        assert sum(f"`{label}`" in note for note in notes) == 1, label
    assert_no_pings(world, people_wrote(world))  # names the bot repeats ping no one either


async def test_odd_rc_branch_and_conflict_label_through_a_conflicting_pick(world: World) -> None:
    await odd_repo(world)
    await seed.commit(world, "rita", FULL, RC, {"app.py": "x = 14\n"}, "RC-only change")
    clean = await fix_pr(world, "fix/clean", {"clean.txt": "clean\n"}, "Fix clean")
    clash = await fix_pr(world, "fix/clash", {"app.py": "x = 2\n"}, "Fix clash")
    for number in (clean, clash):
        await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.4")
        await seed.merge_pr(world, "rita", FULL, number, "squash")
        await seed.add_labels(world, "quinn", FULL, number, VERIFIED)
    await world.settle()
    heads = branch_heads(world)
    # The clean pick lands on exactly the odd RC branch, from a pick branch named after it.
    pick_branch = f"cherry-pick/{clean}-to-{RC.replace('/', '-')}"
    assert pick_branch in heads
    picks = [p for p in store_repo(world)["pulls"].values() if p["head_ref"] == pick_branch]
    assert len(picks) == 1 and picks[0]["base_ref"] == RC
    # The conflict: the odd label is on the PR, and the commands people paste are quoted for a shell.
    assert CONFLICT in labels_on(world, clash)
    [note] = [
        c["body"]
        for c in store_repo(world)["comments"].values()
        if c["user"] == BOT and c["issue_number"] == clash and "conflicts" in c["body"]
    ]
    clash_branch = f"cherry-pick/{clash}-to-{RC.replace('/', '-')}"
    script = note.split("```sh\n", 1)[1].split("\n```", 1)[0]
    words = [shlex.split(line) for line in script.splitlines() if line and not line.startswith("#")]
    assert ["git", "switch", "-c", clash_branch, f"origin/{RC}"] in words
    assert ["git", "push", "origin", clash_branch] in words
    assert "$(id)" not in script.replace(shlex.quote(clash_branch), "").replace(shlex.quote(f"origin/{RC}"), "")
    # Withdrawing the target clears the odd conflict label, and only it.
    since = world.last_seq()
    await seed.remove_label(world, "dana", FULL, clash, "cherry-pick/1.4")
    await world.settle()
    assert CONFLICT not in labels_on(world, clash) and VERIFIED in labels_on(world, clash)
    deletes = [r for r in bot_writes(world, since) if r["method"] == "DELETE"]
    assert [(r["path"], r["status"]) for r in deletes] == [(f"/repos/{FULL}/issues/{clash}/labels/{CONFLICT}", 200)]
    assert set(branch_heads(world)) >= {RC, pick_branch, "devel"}
    assert_no_pings(world, people_wrote(world))  # names the bot repeats ping no one either


async def test_odd_fr_branches_get_the_merge_rules_of_exactly_that_branch(world: World) -> None:
    await odd_repo(world)
    for fr in (FR_BRANCH, LONG_FR):
        await seed.create_branch(world, "alice", FULL, fr, "devel")
        await seed.commit(world, "alice", FULL, fr, {"fr.txt": fr}, "FR work")
    # A decoy: the FR branch's name cut at `#`, with an open child of its own.
    decoy = FR_BRANCH.split("#", 1)[0]
    await seed.create_branch(world, "alice", FULL, decoy, "devel")
    await seed.create_branch(world, "dana", FULL, "feat/decoy-child", "devel")
    await seed.commit(world, "dana", FULL, "feat/decoy-child", {"d.txt": "d\n"}, "Decoy child")
    await seed.open_pr(world, "dana", FULL, head="feat/decoy-child", base=decoy, title="FR-7 decoy child")
    fr_prs = {}
    for fr in (FR_BRANCH, LONG_FR):
        fr_prs[fr] = int(
            (await seed.open_pr(world, "alice", FULL, head=fr, base="devel", title="FR-7: the FR"))["number"]
        )
    await world.settle()
    for fr, number in fr_prs.items():
        rows = await merge_rule_rows(world, number)
        assert rows["No open PRs into " + code(fr)] == "pass", rows
        assert rows["Contains the head of `devel`"] == "pass", rows
    # devel moves: each FR is behind, and the steps quote its name for a shell.
    await seed.commit(world, "dana", FULL, "devel", {"other.txt": "o\n"}, "Elsewhere")
    await world.settle()
    for fr, number in fr_prs.items():
        run = await merge_rule_run(world, number)
        rows = rule_rows(run["output"]["summary"])
        assert rows["Contains the head of `devel`"] == "fail", rows
        script = run["output"]["summary"].split("```sh\n", 1)[1].split("\n```", 1)[0]
        words = [shlex.split(line) for line in script.splitlines()]
        assert ["git", "checkout", fr] in words and ["git", "push", "origin", fr] in words
    # A child PR into the odd FR branch blocks exactly that FR.
    await seed.create_branch(world, "dana", FULL, "feat/child", FR_BRANCH)
    await seed.commit(world, "dana", FULL, "feat/child", {"c.txt": "c\n"}, "Child")
    child = await seed.open_pr(world, "dana", FULL, head="feat/child", base=FR_BRANCH, title="FR-7 child")
    await world.settle()
    assert (await merge_rule_rows(world, fr_prs[FR_BRANCH]))["No open PRs into " + code(FR_BRANCH)] == "fail"
    assert (await merge_rule_rows(world, fr_prs[LONG_FR]))["No open PRs into " + code(LONG_FR)] == "pass"
    summary = (await merge_rule_run(world, fr_prs[FR_BRANCH]))["output"]["summary"]
    assert f"/pull/{child['number']})" in summary
    assert_no_pings(world, people_wrote(world))  # names the bot repeats ping no one either


def code(text: str) -> str:
    """As the merge-rules check writes a name in a code span."""
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


async def merge_rule_run(world: World, number: int) -> dict[str, Any]:
    pr = await world.call("alice", "GET", f"/repos/{FULL}/pulls/{number}")
    sha = pr.body["head"]["sha"]
    answer = await world.call(
        "alice", "GET", f"/repos/{FULL}/commits/{sha}/check-runs?check_name={quote('release-train/merge-rules')}"
    )
    assert answer.status == 200 and answer.body["check_runs"], answer.body
    return max(answer.body["check_runs"], key=lambda r: r["id"])


def rule_rows(summary: str) -> dict[str, str]:
    """rule -> pass/fail/off, read from the check's table (cells split on unescaped pipes)."""
    rows = {}
    for line in summary.splitlines():
        if not line.startswith("| "):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) >= 2 and cells[0] not in ("rule", "---"):
            rows[cells[0].replace("|", "\\|")] = cells[1].split(" ", 1)[-1]
    return rows


async def merge_rule_rows(world: World, number: int) -> dict[str, str]:
    return rule_rows((await merge_rule_run(world, number))["output"]["summary"])


PRODUCTION = "prod/$(id);`x`#1&%41ü"
RELEASE_CONFIG = f"""\
branches:
  release_candidate: {yaml_text(RC_PATTERN)}
  production: {yaml_text(PRODUCTION)}
labels:
  hold: {yaml_text(HOLD)}
roles:
  qa: [quinn]
  rte: [rita]
  pdm: [pam]
gate:
  required_checks: [{{name: sanity, app: ci}}]
"""


async def test_an_odd_rc_is_cut_held_released_and_promoted_onto_an_odd_production_branch(world: World) -> None:
    await seed.create_org_repo(world, ORG, NAME, admin="alice", files={"app.py": "x = 1\n"}, default_branch="devel")
    await seed.put_config(world, "alice", FULL, RELEASE_CONFIG)
    for login in ("dana", "quinn", "rita", "pam"):
        await seed.grant(world, FULL, login, "write")
    old = await seed.create_branch(world, "alice", FULL, PRODUCTION, "devel")
    decoy = PRODUCTION.split("#", 1)[0]  # where a path cut at `#` would land
    await seed.create_branch(world, "alice", FULL, decoy, "devel")
    head = await seed.commit(world, "dana", FULL, "devel", {"app.py": "x = 2\n"}, "Feature (#1)")
    await world.settle()
    where = await new_issue(world)
    cut = await say(world, "rita", where, "/cut-rc 1.5")
    rc = RC_PATTERN.replace("{version}", "1.5")
    assert branch_heads(world)[rc] == head, await reply_to(world, where, cut)
    [tracking] = await tracking_issues(world)
    number = int(tracking["number"])
    await ci_check(world, head, "sanity")
    since = world.last_seq()
    held = await say(world, "pam", number, "/hold waiting for legal")
    assert HOLD in labels_on(world, number), await reply_to(world, number, held)
    unheld = await say(world, "rita", number, "/unhold")
    assert HOLD not in labels_on(world, number), await reply_to(world, number, unheld)
    deletes = [r for r in bot_writes(world, since) if r["method"] == "DELETE"]
    assert [(r["path"], r["status"]) for r in deletes] == [(f"/repos/{FULL}/issues/{number}/labels/{HOLD}", 200)]
    promoted = await say(world, "rita", number, "/promote")
    assert "v1.5.0" in await reply_to(world, number, promoted)
    heads = branch_heads(world)
    assert heads[PRODUCTION] == head and heads[decoy] == old
    assert_no_pings(world, people_wrote(world))  # names the bot repeats ping no one either


UNREADABLE_TARGETS = [
    # (label, prefix, unreadable)
    ("cherry-pick/1.5", "cherry-pick/", False),
    ("Cherry-Pick/1.5", "cherry-pick/", False),
    ("cherry-pick/1.5 ; rm", "cherry-pick/", True),
    ("cherry-pick/../1.5", "cherry-pick/", True),
    ("cherry-pick/", "cherry-pick/", True),
    ("cherry-pick", "cherry-pick/", False),  # the picked label, not under the prefix
    ("cherry-pick-conflict", "cherry-pick/", False),
    ("bug", "cherry-pick/", False),
    ("anything", "", False),
]


def test_unreadable_target_labels() -> None:
    from bot.rules import cherry_pick as rules
    from bot.rules import names

    for label, prefix, unreadable in UNREADABLE_TARGETS:
        assert names.names_no_target(prefix, label) is unreadable, label
    note = rules.unreadable_target_note("cherry-pick/`@alice` -->", "cherry-pick/")
    assert "`cherry-pick/'@alice' -->`" in note and "<!--" not in note
