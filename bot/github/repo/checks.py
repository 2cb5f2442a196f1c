"""Check runs and commit statuses: reading what is on a commit, and making this app's check say exactly what it should."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from bot.github.repo.base import Record, RepoBase, User, read

CHECK_SUMMARY_LIMIT = 65535
ANNOTATIONS_PER_REQUEST = 50


class AppRef(Record, frozen=True, kw_only=True):
    id: int | None = None
    slug: str | None = None


class CheckOutput(Record, frozen=True, kw_only=True):
    title: str | None = None
    summary: str | None = None
    text: str | None = None


class CheckRun(Record, frozen=True, kw_only=True):
    id: int
    name: str = ""
    head_sha: str = ""
    status: str = "queued"  # queued, in_progress, completed (and waiting, requested, pending)
    conclusion: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    external_id: str | None = None
    html_url: str | None = None
    details_url: str | None = None
    app: AppRef | None = None
    output: CheckOutput = msgspec.field(default_factory=CheckOutput)

    @property
    def app_id(self) -> int | None:
        return self.app.id if self.app is not None else None

    @property
    def recency(self) -> tuple[str, int]:
        """Orders runs of one name: the newest started, then the newest made."""
        return (self.started_at or "", self.id)


class CommitStatus(Record, frozen=True, kw_only=True):
    id: int = 0
    context: str = ""
    state: str = "pending"  # error, failure, pending, success
    description: str | None = None
    target_url: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    creator: User | None = None  # who posted it (any writer may)


def newest_by_name(runs: Sequence[CheckRun]) -> dict[str, CheckRun]:
    newest: dict[str, CheckRun] = {}
    for run in runs:
        if run.name not in newest or run.recency > newest[run.name].recency:
            newest[run.name] = run
    return newest


def _same_check(existing: CheckRun, wanted: dict[str, Any]) -> bool:
    output = wanted.get("output") or {}
    return (
        existing.status == wanted.get("status")
        and existing.conclusion == wanted.get("conclusion")
        and (existing.output.title or None) == (output.get("title") or None)
        and (existing.output.summary or None) == (output.get("summary") or None)
        and (existing.output.text or None) == (output.get("text") or None)
    )


class Checks(RepoBase):
    async def check_runs(
        self,
        sha: str,
        *,
        name: str | None = None,
        app_id: int | None = None,
        latest: bool = False,
        every: bool = False,
    ) -> tuple[CheckRun, ...]:
        """The check runs on a commit (one page of 100), of one name or one app when asked.

        GitHub lists the latest run per name and app unless every run is asked for (`every`).
        """
        which = "all" if every else "latest" if latest else None
        answer = await self.gh.getitem(
            "/repos/{owner}/{repo}/commits/{ref}/check-runs{?check_name,app_id,filter,per_page}",
            self._vars(ref=sha, check_name=name, app_id=app_id, filter=which, per_page=100),
        )
        return read(tuple[CheckRun, ...], answer.get("check_runs", []))

    async def latest_check_run(self, sha: str, name: str) -> CheckRun | None:
        """The newest check run of this app with this name on the commit."""
        runs = await self.check_runs(sha, name=name, latest=True)
        mine = [run for run in runs if run.name == name and run.app_id == self.app_id]
        return max(mine, key=lambda run: run.recency) if mine else None

    async def my_check_runs(self, sha: str) -> dict[str, CheckRun]:
        """This app's newest check run per name on the commit (one read)."""
        runs = await self.check_runs(sha, app_id=self.app_id, latest=True)
        return newest_by_name([run for run in runs if run.app_id == self.app_id])

    async def statuses(self, sha: str) -> tuple[CommitStatus, ...]:
        """The commit statuses on a commit, newest first (one page of 100)."""
        answer = await self.gh.getitem(
            "/repos/{owner}/{repo}/commits/{ref}/statuses{?per_page}", self._vars(ref=sha, per_page=100)
        )
        return read(tuple[CommitStatus, ...], answer)

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
        """Make this app's check run on head_sha say exactly this; write nothing when it already does.

        existing_known: the caller already read the latest run (passed as existing, None when there is
        none), so it is not read again.
        update_completed: change a completed run to another completed verdict in place (PATCH) rather
        than adding a new run (POST), for verdicts that change often, since GitHub caps
        content-creating POSTs per installation.
        """
        output: dict[str, Any] = {"title": title[:1000], "summary": summary[:CHECK_SUMMARY_LIMIT]}
        if text:
            output["text"] = text[:CHECK_SUMMARY_LIMIT]
        if annotations:
            output["annotations"] = [dict(a) for a in annotations][:ANNOTATIONS_PER_REQUEST]
        wanted: dict[str, Any] = {"name": name, "head_sha": head_sha, "status": status, "output": output}
        if status == "completed":
            wanted["conclusion"] = conclusion
        if details_url:
            wanted["details_url"] = details_url
        if external_id:
            wanted["external_id"] = external_id
        run = existing if existing_known else await self.latest_check_run(head_sha, name)
        if run is not None and _same_check(run, wanted) and not annotations:
            return run
        if run is not None and (run.status != "completed" or (update_completed and status == "completed")):
            update = {k: v for k, v in wanted.items() if k != "head_sha"}
            answer = await self.gh.patch(
                "/repos/{owner}/{repo}/check-runs/{check_run_id}", self._vars(check_run_id=run.id), data=update
            )
        else:
            answer = await self.gh.post("/repos/{owner}/{repo}/check-runs", self._vars(), data=wanted)
        return read(CheckRun, answer)
