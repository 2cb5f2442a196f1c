"""RepoAPI's contract, run against the sandbox (through the real RepoAPI) and the in-memory fake, so the two cannot drift.

Each case builds the same repository on both sides through a `Side` (people's calls in the sandbox,
direct state in the fake), then asks the API under test and asserts what GitHub answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.github.auth import GitHubApp
from bot.github.repo import RepoAPI
from bot.rules.text import marker
from bot.sandbox import seed
from bot.sandbox.harness import World, start_world
from fake_repo import FakeRepo
from sandbox_calls import client_for, make_repo

OWNER, NAME = "acme", "app"
FULL = f"{OWNER}/{NAME}"
BOT = "release-train[bot]"


class SandboxSide:
    """acme/app in the sandbox, changed as people change it; `api` is the real RepoAPI as the installation."""

    def __init__(self, world: World, api: RepoAPI) -> None:
        self.world = world
        self.api: Any = api

    async def branch(self, name: str, source: str = "main") -> None:
        await seed.create_branch(self.world, "alice", FULL, name, source)

    async def commit(self, branch: str, files: dict[str, str | None], message: str = "change") -> str:
        return await seed.commit(self.world, "alice", FULL, branch, dict(files), message)

    async def pull(self, head: str, base: str, title: str, by: str = "alice") -> int:
        return int((await seed.open_pr(self.world, by, FULL, head=head, base=base, title=title))["number"])

    async def comment(self, number: int, body: str, by: str) -> int:
        return int((await seed.comment(self.world, by, FULL, number, body))["id"])

    async def grant(self, login: str, level: str) -> None:
        await seed.grant(self.world, FULL, login, level)

    async def team(self, org: str, slug: str, login: str) -> None:
        await seed.add_team_member(self.world, org, slug, login)

    async def team_repo(self, org: str, slug: str, level: str) -> None:
        await seed.give_team_access(self.world, org, slug, FULL, level)

    async def other_app_run(self, sha: str, name: str) -> None:
        await seed.ci_check_run(self.world, FULL, sha, name)

    async def head(self, branch: str) -> str:
        answer = await self.world.call("alice", "GET", f"/repos/{FULL}/branches/{branch}")
        return str(answer.body["commit"]["sha"])


class FakeSide:
    """The same repository in memory."""

    def __init__(self) -> None:
        self.fake = FakeRepo(OWNER, NAME, bot_login=BOT)
        self.api: Any = self.fake
        self.fake.commit("main", "Initial commit", files={"README.md": "hello\n"})
        self.fake.grant("alice", "admin")

    async def branch(self, name: str, source: str = "main") -> None:
        self.fake.branch_from(name, source)

    async def commit(self, branch: str, files: dict[str, str | None], message: str = "change") -> str:
        return self.fake.commit(branch, message, files=files)

    async def pull(self, head: str, base: str, title: str, by: str = "alice") -> int:
        return self.fake.open_pull(head, base, title=title, by=by).number

    async def comment(self, number: int, body: str, by: str) -> int:
        return self.fake.comment_as(by, number, body).id

    async def grant(self, login: str, level: str) -> None:
        self.fake.grant(login, level)

    async def team(self, org: str, slug: str, login: str) -> None:
        self.fake.add_to_team(org, slug, login)

    async def team_repo(self, org: str, slug: str, level: str) -> None:
        self.fake.give_team(org, slug, level)

    async def other_app_run(self, sha: str, name: str) -> None:
        self.fake.check_run_by(99, sha, name)

    async def head(self, branch: str) -> str:
        return self.fake.heads[branch]


@pytest.fixture(params=["sandbox", "fake"])
async def side(request: pytest.FixtureRequest, tmp_path: Path, session: aiohttp.ClientSession) -> AsyncIterator[Any]:
    if request.param == "fake":
        yield FakeSide()
        return
    world = await start_world(tmp_path, with_bot=False, session=session)
    try:
        await make_repo(world, OWNER, NAME)
        gh, _ = await client_for(world, OWNER)
        key = Path(world.sandbox.config.private_key_path).read_text()  # type: ignore[arg-type]
        github = GitHubApp(session, app_id=world.sandbox.config.app_id, private_key=key, base_url=world.api_url)
        assert await github.bot_login() == BOT
        yield SandboxSide(world, RepoAPI(gh, OWNER, NAME, app_id=world.sandbox.config.app_id, bot_login=BOT))
    finally:
        await world.close()


async def test_a_branch_head_and_a_missing_branch(side: Any) -> None:
    await side.branch("devel")
    sha = await side.commit("devel", {"a.txt": "a\n"})
    branch = await side.api.branch("devel")
    assert (branch.name, branch.sha) == ("devel", sha) and branch.tree_sha
    assert await side.api.branch_head("devel") == sha
    assert await side.api.branch("nope") is None
    assert await side.api.branch_head("nope") is None
    assert {b.name: b.sha async for b in side.api.branches()}["devel"] == sha


async def test_compare_counts_what_each_side_lacks(side: Any) -> None:
    await side.branch("fr/one")
    await side.commit("main", {"m.txt": "1\n"}, "on main")
    await side.commit("main", {"m.txt": "2\n"}, "on main again")
    ahead = await side.commit("fr/one", {"f.txt": "1\n"}, "on the FR")
    comparison = await side.api.compare("main", "fr/one")
    assert (comparison.status, comparison.ahead_by, comparison.behind_by) == ("diverged", 1, 2)
    assert [c.sha for c in comparison.commits] == [ahead] and comparison.commits[0].message == "on the FR"
    assert await side.api.compare("main", "no-such-branch") is None
    main = await side.head("main")
    assert await side.api.is_on(main, "main") and not await side.api.is_on(ahead, "main")


async def test_pulls_are_listed_by_head_and_base(side: Any) -> None:
    await side.branch("fr/one")
    await side.commit("fr/one", {"f.txt": "1\n"})
    await side.branch("fix", "fr/one")
    await side.commit("fix", {"g.txt": "1\n"})
    into_main = await side.pull("fr/one", "main", "FR one", by="alice")
    into_fr = await side.pull("fix", "fr/one", "A fix", by="alice")
    pull = await side.api.pull(into_fr)
    assert (pull.number, pull.head.ref, pull.base.ref, pull.title, pull.author) == (
        into_fr,
        "fix",
        "fr/one",
        "A fix",
        "alice",
    )
    assert pull.head.label == f"{OWNER}:fix" and pull.head_in(FULL) and pull.state == "open" and not pull.is_merged
    assert [p.number for p in await side.api.open_pulls(base="fr/one")] == [into_fr]
    assert [p.number for p in await side.api.open_pulls(head=f"{OWNER}:fr/one")] == [into_main]
    assert sorted(p.number for p in await side.api.open_pulls()) == sorted([into_main, into_fr])
    assert await side.api.find_pull(999) is None


async def test_a_file_at_the_default_branch_and_at_a_commit(side: Any) -> None:
    old = await side.head("main")
    new = await side.commit("main", {".github/release-train.yml": "roles: {}\n"})
    found = await side.api.file(".github/release-train.yml")
    assert (found.type, found.encoding) == ("file", "base64") and found.sha
    assert await side.api.file(".github/release-train.yml", ref=old) is None
    assert (await side.api.file(".github/release-train.yml", ref=new)).content == found.content
    assert (await side.api.file(".github")).type == "dir"
    assert await side.api.file("missing.txt") is None


async def test_the_bots_comment_is_kept_equal_and_a_persons_copy_never_counts(side: Any) -> None:
    await side.branch("fix")
    await side.commit("fix", {"g.txt": "1\n"})
    number = await side.pull("fix", "main", "A fix")
    await side.comment(number, f"{marker('note')}\nI am not the bot", by="alice")
    assert await side.api.find_bot_comment(number, "note") is None
    first = await side.api.ensure_comment(number, "note", "one")
    assert await side.api.ensure_comment(number, "note", "one") == first
    edited = await side.api.ensure_comment(number, "note", "two")
    assert edited.id == first.id and edited.body == f"{marker('note')}\ntwo" and edited.author == BOT
    once = await side.api.post_once(number, "reply", "hello")
    assert (await side.api.post_once(number, "reply", "changed")).id == once.id
    bodies = [(c.author, c.body) async for c in side.api.comments(number)]
    assert bodies == [
        ("alice", f"{marker('note')}\nI am not the bot"),
        (BOT, f"{marker('note')}\ntwo"),
        (BOT, f"{marker('reply')}\nhello"),
    ]


async def test_labels_are_added_once_and_a_missing_one_is_removed_quietly(side: Any) -> None:
    await side.branch("fix")
    await side.commit("fix", {"g.txt": "1\n"})
    number = await side.pull("fix", "main", "A fix")
    await side.api.add_labels(number, ["bug", "rc/1.5"])
    await side.api.add_labels(number, ["bug"], present=["bug"])
    await side.api.remove_label(number, "rc/1.5")
    await side.api.remove_label(number, "never-there")
    assert (await side.api.pull(number)).label_names == ("bug",)
    assert (await side.api.issue(number)).label_names == ("bug",)
    assert [i.number for i in await side.api.issues(labels=["bug"])] == [number]
    assert await side.api.issues(labels=["bug", "rc/1.5"]) == []


async def test_a_check_run_is_written_only_when_it_differs(side: Any) -> None:
    sha = await side.head("main")
    await side.other_app_run(sha, "release-train/gate")  # another app's run of the same name never counts
    assert await side.api.latest_check_run(sha, "release-train/gate") is None
    first = await side.api.ensure_check_run(
        name="release-train/gate", head_sha=sha, status="in_progress", title="t", summary="s"
    )
    assert (
        await side.api.ensure_check_run(
            name="release-train/gate", head_sha=sha, status="in_progress", title="t", summary="s"
        )
    ).id == first.id
    done = await side.api.ensure_check_run(
        name="release-train/gate", head_sha=sha, status="completed", conclusion="failure", title="t2", summary="s2"
    )
    assert done.id == first.id, "an unfinished run is finished in place"
    again = await side.api.ensure_check_run(
        name="release-train/gate", head_sha=sha, status="completed", conclusion="success", title="t3", summary="s3"
    )
    assert again.id != first.id, "a completed run gets a new run for a new verdict"
    patched = await side.api.ensure_check_run(
        name="release-train/gate",
        head_sha=sha,
        status="completed",
        conclusion="failure",
        title="t4",
        summary="s4",
        update_completed=True,
    )
    assert patched.id == again.id and (patched.conclusion, patched.output.title) == ("failure", "t4")
    latest = await side.api.latest_check_run(sha, "release-train/gate")
    assert (latest.id, latest.status, latest.conclusion, latest.output.summary) == (
        again.id,
        "completed",
        "failure",
        "s4",
    )
    mine = await side.api.my_check_runs(sha)
    assert list(mine) == ["release-train/gate"] and mine["release-train/gate"].id == again.id
    # GitHub lists the newest run per name and app unless asked for all.
    listed = await side.api.check_runs(sha)
    assert sorted(run.id for run in listed if run.app_id == side.api.app_id) == [again.id] and len(listed) == 2
    every = await side.api.check_runs(sha, every=True)
    assert sorted(run.id for run in every if run.app_id == side.api.app_id) == sorted([first.id, again.id])


async def test_reacting_twice_is_fine(side: Any) -> None:
    await side.branch("fix")
    await side.commit("fix", {"g.txt": "1\n"})
    number = await side.pull("fix", "main", "A fix")
    comment = await side.comment(number, "/help", by="alice")
    assert await side.api.comment_reactions(comment) == []
    await side.api.react(comment, "eyes")
    await side.api.react(comment, "eyes")
    await side.api.react(comment, "+1")
    reactions = await side.api.comment_reactions(comment)
    assert sorted(r.content for r in reactions) == ["+1", "eyes"] and {r.user.login for r in reactions} == {BOT}
    assert await side.api.comment_reactions(987654) is None


async def test_permissions_and_team_membership(side: Any) -> None:
    await side.grant("dana", "write")
    await side.team(OWNER, "qa", "quinn")
    assert await side.api.permission("alice") == "admin"
    assert await side.api.permission("dana") == "write"
    assert await side.api.permission("stranger") in ("none", "read")
    assert await side.api.is_team_member(OWNER, "qa", "quinn")
    assert not await side.api.is_team_member(OWNER, "qa", "dana")
    assert not await side.api.is_team_member(OWNER, "no-such-team", "quinn")


async def test_teams_and_people_the_roles_name_and_their_access(side: Any) -> None:
    await side.grant("dana", "write")
    await side.team(OWNER, "qa", "quinn")
    await side.team(OWNER, "ops", "olga")
    await side.team_repo(OWNER, "qa", "triage")
    repository = await side.api.repository()
    assert (repository.full_name, repository.default_branch) == (FULL, "main")
    team = await side.api.team(OWNER, "qa")
    assert team is not None and team.slug == "qa"
    assert await side.api.team(OWNER, "no-such-team") is None
    assert await side.api.team_access(OWNER, "qa") == "triage"
    assert await side.api.team_access(OWNER, "ops") == "none"
    assert await side.api.person_access("alice") == "admin"
    assert await side.api.person_access("dana") == "write"
    assert await side.api.person_access("quinn") == "triage"  # through the team
    assert await side.api.person_access("nobody-at-all") is None
