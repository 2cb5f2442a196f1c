"""An in-memory repository behind RepoAPI's methods, for fast handler-decision tests; test_repo_contract keeps it honest.

It keeps a small commit graph (branches, compare), PRs, issues with labels and comments, this app's
check runs, reactions, files, permissions and teams, and logs every write as a line in `writes`
("POST check-runs release-train/gate", "comment #3"), so a test can assert that a second run writes nothing.
It answers as GitHub does where the handlers depend on it; what it leaves out raises NotImplementedError.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from http import HTTPStatus
from types import SimpleNamespace
from typing import Any

import gidgethub
import msgspec
from gidgethub.sansio import Event

from bot.github import events
from bot.github.repo import (
    Branch,
    ChangedFile,
    CheckOutput,
    CheckRun,
    Comment,
    Commit,
    Comparison,
    ContentFile,
    Issue,
    Label,
    PullEnd,
    PullRequest,
    Repository,
    Team,
    User,
    newest_by_name,
)
from bot.github.repo.branches import Activity, CommitDetails, ShaRef
from bot.github.repo.checks import CHECK_SUMMARY_LIMIT, AppRef
from bot.github.repo.issues import IssuePullRef, Reaction
from bot.github.repo.pulls import RepoRef
from bot.handlers.context import Context, Services
from bot.repo_config import ConfigStore
from bot.roles import RoleResolver
from bot.rules.text import marker
from bot.settings import Settings

RANK = {"none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}


def not_found(what: str) -> gidgethub.BadRequest:
    return gidgethub.BadRequest(HTTPStatus.NOT_FOUND, f"Not Found: {what}")


class FakeRepo:
    """One repository in memory, answering RepoAPI's calls."""

    def __init__(
        self,
        owner: str = "acme",
        repo: str = "app",
        *,
        app_id: int = 1,
        bot_login: str = "release-train[bot]",
        default_branch: str = "main",
    ) -> None:
        self.owner = owner
        self.repo = repo
        self.app_id = app_id
        self.bot_login = bot_login
        self._ids = itertools.count(1)
        self.commits: dict[str, tuple[str, ...]] = {}  # sha -> parents
        self.messages: dict[str, str] = {}
        self.heads: dict[str, str] = {}  # branch -> sha
        self.default_branch = default_branch
        self.trees: dict[str, dict[str, str]] = {}  # commit -> path -> text
        self.pulls_by_number: dict[int, PullRequest] = {}
        self.changed_files: dict[int, tuple[ChangedFile, ...]] = {}
        self.issues_by_number: dict[int, Issue] = {}
        self.comments_on: dict[int, list[Comment]] = {}
        self.runs_on: dict[str, list[CheckRun]] = {}
        self.reactions: dict[int, list[str]] = {}
        self.levels: dict[str, str] = {}
        self.teams: dict[tuple[str, str], set[str]] = {}
        self.team_levels: dict[tuple[str, str], str] = {}  # a team's own role on the repository
        self.users: set[str] = set()  # logins GitHub knows, beyond those granted or in a team
        self.writes: list[str] = []
        self._numbers = itertools.count(1)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    def is_bot(self, login: str | None) -> bool:
        return bool(login) and login == self.bot_login

    # -- building the repository (tests) ---------------------------------------------------------------
    def commit(self, branch: str, message: str = "change", *, files: Mapping[str, str | None] | None = None) -> str:
        """A commit on branch (made when new); files: text by path, None to delete one."""
        parent = self.heads.get(branch)
        sha = f"{next(self._ids):040x}"
        self.commits[sha] = (parent,) if parent else ()
        self.messages[sha] = message
        self.heads[branch] = sha
        tree = dict(self.trees.get(parent, {})) if parent else {}
        for path, text in (files or {}).items():
            if text is None:
                tree.pop(path, None)
            else:
                tree[path] = text
        self.trees[sha] = tree
        return sha

    def branch_from(self, branch: str, source: str) -> str:
        self.heads[branch] = self.heads[source]
        return self.heads[branch]

    def open_pull(
        self, head: str, base: str, *, title: str = "", by: str = "dana", body: str = "", labels: Iterable[str] = ()
    ) -> PullRequest:
        number = next(self._numbers)
        pull = PullRequest(
            number=number,
            head=PullEnd(
                ref=head, sha=self.heads[head], label=f"{self.owner}:{head}", repo=RepoRef(full_name=self.full_name)
            ),
            base=PullEnd(
                ref=base, sha=self.heads[base], label=f"{self.owner}:{base}", repo=RepoRef(full_name=self.full_name)
            ),
            title=title,
            body=body,
            html_url=f"https://github.test/{self.full_name}/pull/{number}",
            user=User(login=by),
            labels=tuple(Label(name=n) for n in labels),
        )
        self.pulls_by_number[number] = pull
        self.issues_by_number[number] = Issue(
            number=number, title=title, body=body, user=User(login=by), labels=pull.labels, pull_request=IssuePullRef()
        )
        return pull

    def grant(self, login: str, level: str) -> None:
        self.levels[login] = level

    def add_to_team(self, org: str, team: str, login: str) -> None:
        self.teams.setdefault((org.lower(), team.lower()), set()).add(login.lower())

    def give_team(self, org: str, team: str, level: str) -> None:
        self.teams.setdefault((org.lower(), team.lower()), set())
        self.team_levels[(org.lower(), team.lower())] = level

    # -- branches --------------------------------------------------------------------------------------
    async def branch(self, name: str) -> Branch | None:
        sha = self.heads.get(name)
        return Branch(name=name, sha=sha, tree_sha=f"tree-{sha}") if sha else None

    async def branch_head(self, name: str) -> str | None:
        return self.heads.get(name)

    async def branch_activity(self, branch: str, *, per_page: int = 30) -> tuple[Activity, ...] | None:
        return None  # as an Enterprise Server that serves no activity

    async def branches(self) -> AsyncIterator[Branch]:
        for name in sorted(self.heads):
            yield Branch(name=name, sha=self.heads[name])

    def _resolve(self, ref: str) -> str | None:
        if ref in self.heads:
            return self.heads[ref]
        if ":" in ref:
            return self.heads.get(ref.split(":", 1)[1])
        return ref if ref in self.commits else None

    def _history(self, sha: str) -> set[str]:
        seen: set[str] = set()
        todo = [sha]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo += self.commits.get(current, ())
        return seen

    async def compare(self, base: str, head: str, *, per_page: int | None = None) -> Comparison | None:
        base_sha, head_sha = self._resolve(base), self._resolve(head)
        if base_sha is None or head_sha is None:
            return None
        base_history, head_history = self._history(base_sha), self._history(head_sha)
        if not base_history & head_history:
            return None
        ahead = sorted(head_history - base_history)
        behind = base_history - head_history
        status = (
            "identical"
            if not ahead and not behind
            else "ahead"
            if not behind
            else "behind"
            if not ahead
            else "diverged"
        )
        commits = tuple(self._commit(sha) for sha in ahead)
        return Comparison(
            status=status,
            ahead_by=len(ahead),
            behind_by=len(behind),
            total_commits=len(ahead),
            commits=commits[: per_page or 250],
        )

    def _commit(self, sha: str) -> Commit:
        return Commit(
            sha=sha,
            commit=CommitDetails(message=self.messages.get(sha, "")),
            parents=tuple(ShaRef(sha=p) for p in self.commits[sha]),
        )

    async def is_on(self, sha: str, branch: str) -> bool:
        comparison = await self.compare(sha, branch)
        return comparison is not None and comparison.status in ("ahead", "identical")

    # -- pulls -----------------------------------------------------------------------------------------
    async def pull(self, number: int) -> PullRequest:
        if number not in self.pulls_by_number:
            raise not_found(f"pull {number}")
        return self.pulls_by_number[number]

    async def find_pull(self, number: int) -> PullRequest | None:
        return self.pulls_by_number.get(number)

    async def pulls(
        self,
        *,
        state: str = "open",
        head: str | None = None,
        base: str | None = None,
        sort: str | None = None,
        direction: str | None = None,
    ) -> AsyncIterator[PullRequest]:
        for number in sorted(self.pulls_by_number):
            pull = self.pulls_by_number[number]
            if state != "all" and pull.state != state:
                continue
            if head is not None and pull.head.label != head:
                continue
            if base is not None and pull.base.ref != base:
                continue
            yield pull

    async def open_pulls(self, *, head: str | None = None, base: str | None = None) -> list[PullRequest]:
        return [pull async for pull in self.pulls(head=head, base=base)]

    async def pull_files(self, number: int) -> AsyncIterator[ChangedFile]:
        for changed in self.changed_files.get(number, ()):
            yield changed

    # -- contents --------------------------------------------------------------------------------------
    async def file(self, path: str, *, ref: str | None = None) -> ContentFile | None:
        sha = self._resolve(ref or self.default_branch)
        tree = self.trees.get(sha or "", {})
        if path not in tree:
            if any(name.startswith(path.rstrip("/") + "/") for name in tree):
                return ContentFile(path=path, type="dir")
            return None
        text = tree[path]
        return ContentFile(
            path=path,
            sha=f"blob-{hash(text) & 0xFFFFFFFF:x}",
            encoding="base64",
            content=base64.b64encode(text.encode()).decode(),
            size=len(text),
        )

    # -- issues, labels, comments ----------------------------------------------------------------------
    async def issue(self, number: int) -> Issue:
        if number not in self.issues_by_number:
            raise not_found(f"issue {number}")
        return self.issues_by_number[number]

    async def issues(
        self, *, labels: Iterable[str] = (), state: str = "open", milestone: int | None = None
    ) -> list[Issue]:
        wanted = set(labels)
        return [
            issue
            for _, issue in sorted(self.issues_by_number.items())
            if (state == "all" or issue.state == state) and wanted <= set(issue.label_names)
        ]

    async def create_issue(self, *, title: str, body: str, labels: Sequence[str] = ()) -> Issue:
        number = next(self._numbers)
        issue = Issue(
            number=number,
            title=title,
            body=body,
            user=User(login=self.bot_login, type="Bot"),
            labels=tuple(Label(name=n) for n in labels),
        )
        self.issues_by_number[number] = issue
        self.writes.append(f"issue #{number}")
        return issue

    async def update_issue(
        self,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
        state_reason: str | None = None,
        labels: Sequence[str] | None = None,
        assignees: Sequence[str] | None = None,
    ) -> Issue:
        issue = await self.issue(number)
        changes: dict[str, Any] = {
            k: v
            for k, v in {"title": title, "body": body, "state": state, "state_reason": state_reason}.items()
            if v is not None
        }
        if labels is not None:
            changes["labels"] = tuple(Label(name=n) for n in labels)
        issue = msgspec.structs.replace(issue, **changes)
        self.issues_by_number[number] = issue
        self.writes.append(f"edit #{number} {' '.join(sorted(changes))}")
        return issue

    def _set_labels(self, number: int, names: Iterable[str]) -> None:
        labels = tuple(Label(name=n) for n in names)
        self.issues_by_number[number] = msgspec.structs.replace(self.issues_by_number[number], labels=labels)
        if number in self.pulls_by_number:
            self.pulls_by_number[number] = msgspec.structs.replace(self.pulls_by_number[number], labels=labels)

    async def add_labels(self, number: int, labels: Iterable[str], *, present: Iterable[str] = ()) -> None:
        missing = sorted(set(labels) - set(present))
        if missing:
            current = list((await self.issue(number)).label_names)
            self._set_labels(number, current + [n for n in missing if n not in current])
            self.writes.append(f"label #{number} {' '.join(missing)}")

    async def remove_label(self, number: int, label: str) -> None:
        current = (await self.issue(number)).label_names
        if label in current:
            self._set_labels(number, [n for n in current if n != label])
            self.writes.append(f"unlabel #{number} {label}")

    async def comments(self, number: int) -> AsyncIterator[Comment]:
        for comment in list(self.comments_on.get(number, [])):
            yield comment

    def comment_as(self, login: str, number: int, body: str) -> Comment:
        """A person's comment (tests)."""
        comment = Comment(id=next(self._ids), body=body, user=User(login=login))
        self.comments_on.setdefault(number, []).append(comment)
        return comment

    async def post_comment(self, number: int, body: str) -> Comment:
        await self.issue(number)
        comment = Comment(id=next(self._ids), body=body, user=User(login=self.bot_login, type="Bot"))
        self.comments_on.setdefault(number, []).append(comment)
        self.writes.append(f"comment #{number}")
        return comment

    async def edit_comment(self, comment_id: int, body: str) -> Comment:
        for thread in self.comments_on.values():
            for i, comment in enumerate(thread):
                if comment.id == comment_id:
                    thread[i] = msgspec.structs.replace(comment, body=body)
                    self.writes.append(f"edit comment {comment_id}")
                    return thread[i]
        raise not_found(f"comment {comment_id}")

    async def find_bot_comment(self, number: int, key: str) -> Comment | None:
        tag = marker(key)
        async for comment in self.comments(number):
            if tag in (comment.body or "") and self.is_bot(comment.author):
                return comment
        return None

    async def ensure_comment(self, number: int, key: str, body: str) -> Comment:
        text = f"{marker(key)}\n{body}"
        existing = await self.find_bot_comment(number, key)
        if existing is None:
            return await self.post_comment(number, text)
        if existing.body != text:
            return await self.edit_comment(existing.id, text)
        return existing

    async def post_once(self, number: int, key: str, body: str) -> Comment:
        return await self.find_bot_comment(number, key) or await self.post_comment(number, f"{marker(key)}\n{body}")

    async def post_keyed(self, number: int, key: str, body: str) -> Comment:
        return await self.post_comment(number, f"{marker(key)}\n{body}")

    async def react(self, comment_id: int, content: str) -> None:
        seen = self.reactions.setdefault(comment_id, [])
        if content not in seen:
            seen.append(content)
            self.writes.append(f"react {comment_id} {content}")

    async def comment_reactions(self, comment_id: int) -> list[Reaction] | None:
        if not any(c.id == comment_id for thread in self.comments_on.values() for c in thread):
            return None
        bot = User(login=self.bot_login, type="Bot")
        return [Reaction(id=i, content=c, user=bot) for i, c in enumerate(self.reactions.get(comment_id, []), 1)]

    # -- checks ----------------------------------------------------------------------------------------
    def check_run_by(
        self, app_id: int, sha: str, name: str, *, conclusion: str = "success", slug: str = "ci"
    ) -> CheckRun:
        """Another app's (or this app's) completed check run (tests)."""
        run = CheckRun(
            id=next(self._ids),
            name=name,
            head_sha=sha,
            status="completed",
            conclusion=conclusion,
            started_at=f"t{next(self._ids):08d}",
            app=AppRef(id=app_id, slug=slug),
        )
        self.runs_on.setdefault(sha, []).append(run)
        return run

    async def check_runs(
        self,
        sha: str,
        *,
        name: str | None = None,
        app_id: int | None = None,
        latest: bool = False,
        every: bool = False,
    ) -> tuple[CheckRun, ...]:
        runs = [
            r
            for r in self.runs_on.get(sha, [])
            if (name is None or r.name == name) and (app_id is None or r.app_id == app_id)
        ]
        if not every:  # GitHub's default: the newest run per name and app
            newest: dict[tuple[str, int | None], CheckRun] = {}
            for run in runs:
                key = (run.name, run.app_id)
                if key not in newest or run.recency > newest[key].recency:
                    newest[key] = run
            runs = list(newest.values())
        return tuple(runs)

    async def latest_check_run(self, sha: str, name: str) -> CheckRun | None:
        mine = [run for run in await self.check_runs(sha, name=name) if run.app_id == self.app_id]
        return max(mine, key=lambda run: run.recency) if mine else None

    async def my_check_runs(self, sha: str) -> dict[str, CheckRun]:
        return newest_by_name(await self.check_runs(sha, app_id=self.app_id))

    async def ensure_check_run(
        self,
        *,
        name: str,
        head_sha: str,
        status: str,
        conclusion: str | None = None,
        title: str,
        summary: str,
        text: str | None = None,
        annotations: Sequence[Mapping[str, Any]] = (),
        details_url: str | None = None,
        external_id: str | None = None,
        existing: CheckRun | None = None,
        existing_known: bool = False,
        update_completed: bool = False,
    ) -> CheckRun:
        output = CheckOutput(
            title=title[:1000], summary=summary[:CHECK_SUMMARY_LIMIT], text=text[:CHECK_SUMMARY_LIMIT] if text else None
        )
        wanted_conclusion = conclusion if status == "completed" else None
        run = existing if existing_known else await self.latest_check_run(head_sha, name)
        same = run is not None and (
            run.status,
            run.conclusion,
            run.output.title or None,
            run.output.summary or None,
            run.output.text or None,
        ) == (status, wanted_conclusion, output.title or None, output.summary or None, output.text or None)
        if run is not None and same and not annotations:
            return run
        fields = {
            "status": status,
            "conclusion": wanted_conclusion,
            "output": output,
            "external_id": external_id,
            "details_url": details_url,
        }
        if run is not None and (run.status != "completed" or (update_completed and status == "completed")):
            runs = self.runs_on[head_sha]
            updated = msgspec.structs.replace(run, **fields)
            runs[runs.index(run)] = updated
            self.writes.append(f"PATCH check-run {name}")
            return updated
        created = CheckRun(
            id=next(self._ids),
            name=name,
            head_sha=head_sha,
            started_at=f"t{next(self._ids):08d}",
            app=AppRef(id=self.app_id, slug="release-train"),
            **fields,
        )
        self.runs_on.setdefault(head_sha, []).append(created)
        self.writes.append(f"POST check-run {name}")
        return created

    def runs_on_by_name(self, sha: str) -> dict[str, CheckRun]:
        """This app's newest run per name on the commit (tests)."""
        return newest_by_name([run for run in self.runs_on.get(sha, []) if run.app_id == self.app_id])

    def latest_summary(self, sha: str, name: str) -> str | None:
        run = self.runs_on_by_name(sha).get(name)
        return run.output.summary if run else None

    # -- people ----------------------------------------------------------------------------------------
    async def permission(self, login: str) -> str:
        return self.levels.get(login, "none")

    async def is_team_member(self, org: str, team_slug: str, login: str) -> bool:
        return login.lower() in self.teams.get((org.lower(), team_slug.lower()), set())

    async def repository(self) -> Repository:
        return Repository(full_name=self.full_name, default_branch=self.default_branch)

    async def person_access(self, login: str) -> str | None:
        known = self.users | {k.lower() for k in self.levels} | set().union(*self.teams.values())
        if login.lower() not in known:
            return None
        levels = [self.levels.get(login, "none")]
        levels += [
            self.team_levels.get(team, "none") for team, members in self.teams.items() if login.lower() in members
        ]
        return max(levels, key=RANK.__getitem__)

    async def team(self, org: str, team_slug: str) -> Team | None:
        key = (org.lower(), team_slug.lower())
        return (
            Team(id=sorted(self.teams).index(key) + 1, slug=team_slug.lower(), name=team_slug)
            if key in self.teams
            else None
        )

    async def team_access(self, org: str, team_slug: str) -> str:
        return self.team_levels.get((org.lower(), team_slug.lower()), "none")

    def __getattr__(self, name: str) -> Any:
        raise NotImplementedError(f"FakeRepo has no {name}: add it, and a contract case for it in test_repo_contract")


def fake_context(fake: FakeRepo, event: str = "ping", payload: dict[str, Any] | None = None) -> Context:
    """A handler Context whose door is the fake (no client: a handler that reaches past the door fails).

    A payload is read into its record as the worker reads it, so it must be whole (`example_payload` makes one).
    """
    services = Services(
        settings=Settings(app_id=fake.app_id, private_key="unused"),
        github=SimpleNamespace(app_id=fake.app_id),  # type: ignore[arg-type]
        config_store=ConfigStore(ttl_seconds=0),
        roles=RoleResolver(),
    )
    return Context(
        gh=None,  # type: ignore[arg-type]
        event=Event(payload or {}, event=event, delivery_id="fake-delivery"),
        payload=events.decode(event, payload.get("action"), msgspec.json.encode(payload))
        if payload
        else events.Payload(),
        owner=fake.owner,
        repo=fake.repo,
        installation_id=1,
        bot_login=fake.bot_login,
        services=services,
        repo_api=fake,  # type: ignore[arg-type]
    )


_EXAMPLES: dict[str, list[dict[str, Any]]] = {}


def example_payload(event: str, action: str | None, having: str = "", **changes: Any) -> dict[str, Any]:
    """GitHub's first example payload of the event and action (tests/reference/webhook-examples.json) that
    satisfies `having` (a key it holds non-empty), with `changes` merged in, key by key, at every depth."""
    import json
    from pathlib import Path

    if not _EXAMPLES:
        path = Path(__file__).parent / "reference" / "webhook-examples.json"
        _EXAMPLES.update({e["name"]: e["examples"] for e in json.loads(path.read_text())})
    found = next(e for e in _EXAMPLES[event] if e.get("action") == action and (not having or e.get(having)))
    return _merged(found, changes)


def _merged(base: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        old = merged.get(key)
        merged[key] = _merged(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return merged
