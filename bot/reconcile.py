"""Acting on a decision: change on GitHub only what differs (comments, check runs, labels, reactions)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import gidgethub

from bot.rules.text import marker

if TYPE_CHECKING:
    from bot.handlers.context import Context

log = logging.getLogger("release_train.reconcile")

CHECK_SUMMARY_LIMIT = 65535


async def find_bot_comment(ctx: Context, issue_number: int, key: str) -> dict[str, Any] | None:
    """The bot's comment on an issue or PR that carries the hidden marker for key."""
    tag = marker(key)
    async for comment in ctx.gh.getiter(
        "/repos/{owner}/{repo}/issues/{issue_number}/comments", {**ctx.repo_vars, "issue_number": issue_number}
    ):
        if tag in (comment.get("body") or "") and (comment.get("user") or {}).get("login") == ctx.bot_login:
            return comment
    return None


async def ensure_comment(ctx: Context, issue_number: int, key: str, body: str) -> dict[str, Any]:
    """One comment per key on the issue, kept equal to body (created, edited, or left alone)."""
    text = f"{marker(key)}\n{body}"
    existing = await find_bot_comment(ctx, issue_number, key)
    if existing is None:
        return await ctx.gh.post(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            {**ctx.repo_vars, "issue_number": issue_number},
            data={"body": text},
        )
    if existing.get("body") != text:
        return await ctx.gh.patch(
            "/repos/{owner}/{repo}/issues/comments/{comment_id}",
            {**ctx.repo_vars, "comment_id": existing["id"]},
            data={"body": text},
        )
    return existing


async def post_once(ctx: Context, issue_number: int, key: str, body: str) -> dict[str, Any]:
    """A comment that is posted once per key and never edited afterwards (replies, notices)."""
    existing = await find_bot_comment(ctx, issue_number, key)
    if existing is not None:
        return existing
    return await ctx.gh.post(
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        {**ctx.repo_vars, "issue_number": issue_number},
        data={"body": f"{marker(key)}\n{body}"},
    )


def _same_check(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    output = existing.get("output") or {}
    wanted_output = wanted.get("output") or {}
    return (
        existing.get("status") == wanted.get("status")
        and existing.get("conclusion") == wanted.get("conclusion")
        and (output.get("title") or None) == (wanted_output.get("title") or None)
        and (output.get("summary") or None) == (wanted_output.get("summary") or None)
        and (output.get("text") or None) == (wanted_output.get("text") or None)
    )


async def latest_check_run(ctx: Context, head_sha: str, name: str) -> dict[str, Any] | None:
    """The newest check run of this app with this name on the commit."""
    answer = await ctx.gh.getitem(
        "/repos/{owner}/{repo}/commits/{ref}/check-runs{?check_name,filter,per_page}",
        {**ctx.repo_vars, "ref": head_sha, "check_name": name, "filter": "latest", "per_page": 100},
    )
    mine = [
        run
        for run in answer.get("check_runs", [])
        if run.get("name") == name and (run.get("app") or {}).get("id") == ctx.services.github.app_id
    ]
    if not mine:
        return None
    return max(mine, key=lambda run: (run.get("started_at") or "", run.get("id") or 0))


async def ensure_check_run(
    ctx: Context,
    *,
    name: str,
    head_sha: str,
    status: str,
    conclusion: str | None = None,
    title: str,
    summary: str,
    text: str | None = None,
    annotations: Sequence[dict[str, Any]] = (),
    details_url: str | None = None,
    external_id: str | None = None,
    existing: Any = None,
    existing_known: bool = False,
    update_completed: bool = False,
) -> dict[str, Any]:
    """Make the check run on head_sha say exactly this; write nothing when it already does.

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
        output["annotations"] = list(annotations)[:50]
    wanted: dict[str, Any] = {"name": name, "head_sha": head_sha, "status": status, "output": output}
    if status == "completed":
        wanted["conclusion"] = conclusion
    if details_url:
        wanted["details_url"] = details_url
    if external_id:
        wanted["external_id"] = external_id
    if not existing_known:
        existing = await latest_check_run(ctx, head_sha, name)
    if existing is not None and _same_check(existing, wanted) and not annotations:
        return existing
    if existing is not None and (existing.get("status") != "completed" or (update_completed and status == "completed")):
        update = {k: v for k, v in wanted.items() if k not in ("head_sha",)}
        return await ctx.gh.patch(
            "/repos/{owner}/{repo}/check-runs/{check_run_id}",
            {**ctx.repo_vars, "check_run_id": existing["id"]},
            data=update,
        )
    return await ctx.gh.post("/repos/{owner}/{repo}/check-runs", ctx.repo_vars, data=wanted)


async def add_labels(ctx: Context, issue_number: int, labels: Iterable[str], *, present: Iterable[str] = ()) -> None:
    missing = sorted(set(labels) - set(present))
    if missing:
        await ctx.gh.post(
            "/repos/{owner}/{repo}/issues/{issue_number}/labels",
            {**ctx.repo_vars, "issue_number": issue_number},
            data={"labels": missing},
        )


async def remove_label(ctx: Context, issue_number: int, label: str) -> None:
    try:
        await ctx.gh.delete(
            "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
            {**ctx.repo_vars, "issue_number": issue_number, "name": label},
        )
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) != 404:  # already gone
            raise


async def react(ctx: Context, comment_id: int, content: str) -> None:
    """React to an issue comment; GitHub answers 200 instead of 201 when the reaction exists."""
    await ctx.gh.post(
        "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
        {**ctx.repo_vars, "comment_id": comment_id},
        data={"content": content},
        accept="application/vnd.github+json",
    )
