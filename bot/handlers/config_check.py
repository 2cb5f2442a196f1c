"""The release-train/config check on commits that change .github/release-train.yml."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import gidgethub
from gidgethub import routing
from gidgethub.sansio import Event

from bot import reconcile
from bot.config import CONFIG_PATH, ConfigError, parse_config
from bot.handlers.commands import CommandSet
from bot.handlers.context import Context
from bot.repo_config import decode_config_file
from bot.rules.text import inline

log = logging.getLogger("release_train.config_check")

router = routing.Router()
# The installation permissions this concern's jobs need: it reads the config file on a PR's head and posts the config check.
PERMISSIONS = {"contents": "read", "pull_requests": "read", "checks": "write"}
commands = CommandSet()

# GitHub lists at most 20 commits in a push payload; a longer push may hide a change to the file.
PUSH_COMMITS_LISTED = 20
ANNOTATIONS_PER_REQUEST = 50


@dataclass(frozen=True)
class ConfigVerdict:
    conclusion: str  # success | failure
    title: str
    summary: str
    annotations: tuple[dict[str, Any], ...]


def config_verdict(
    text: str | None, problem: ConfigError | None, *, removed: bool, default_branch: str
) -> ConfigVerdict:
    """The check that a version of the config file deserves (pure)."""
    if removed:
        return ConfigVerdict(
            "success",
            "No configuration file: the defaults apply",
            f"`{CONFIG_PATH}` is absent in this commit, so every setting takes its default.",
            (),
        )
    errors = (problem,) if problem is not None else parse_config(text).errors
    if not errors:
        return ConfigVerdict("success", "Configuration is valid", f"`{CONFIG_PATH}` is valid.", ())
    count = f"{len(errors)} problem{'s' if len(errors) != 1 else ''}"
    listing = "\n".join(f"- {inline(str(e), 500)}" for e in errors)
    summary = (
        f"`{CONFIG_PATH}` has {count}. Until a valid version is on `{default_branch}`, Release Train keeps "
        f"using the last valid configuration it read (or, with none, refuses role-gated actions).\n\n{listing}"
    )
    annotations = tuple(
        {
            "path": CONFIG_PATH,
            "start_line": e.line or 1,
            "end_line": e.line or 1,
            "annotation_level": "failure",
            "title": e.key or "configuration",
            "message": f"{e.key}: {e.message}" if e.key else e.message,
        }
        for e in errors[:ANNOTATIONS_PER_REQUEST]
    )
    return ConfigVerdict("failure", f"Configuration has {count}", summary, annotations)


def push_touches_config(push: dict[str, Any]) -> bool | None:
    """Whether a push changed the config file: True, False, or None when the payload cannot tell (pure)."""
    commits = push.get("commits")
    if push.get("forced") or push.get("created") or not isinstance(commits, list) or not commits:
        return None
    if len(commits) >= PUSH_COMMITS_LISTED:
        return None
    unknown = False
    for commit in commits:
        lists = [commit.get(k) for k in ("added", "modified", "removed")]
        if not all(isinstance(files, list) for files in lists):
            unknown = True
            continue
        if any(CONFIG_PATH in files for files in lists):
            return True
    return None if unknown else False


async def read_config_at(ctx: Context, ref: str) -> tuple[str | None, ConfigError | None, bool]:
    """(text, problem, removed) of the config file at a commit."""
    try:
        answer = await ctx.gh.getitem(
            "/repos/{owner}/{repo}/contents/{+path}{?ref}", {**ctx.repo_vars, "path": CONFIG_PATH, "ref": ref}
        )
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) == 404:
            return None, None, True
        raise
    text, problem = decode_config_file(answer)
    return text, problem, False


async def _pr_touches_config(ctx: Context, pr: dict[str, Any]) -> bool:
    try:
        async for changed in ctx.gh.getiter(
            "/repos/{owner}/{repo}/pulls/{pull_number}/files{?per_page}",
            {**ctx.repo_vars, "pull_number": pr["number"], "per_page": 100},
        ):
            if CONFIG_PATH in (changed.get("filename"), changed.get("previous_filename")):
                return True
        return False
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) != 404:
            raise
    # Without the files endpoint: compare the file at both ends.
    head = await read_config_at(ctx, pr["head"]["sha"])
    base = await read_config_at(ctx, pr["base"]["sha"])
    return head != base


async def _post_verdict(
    ctx: Context, sha: str, text: str | None, problem: ConfigError | None, removed: bool, default_branch: str
) -> None:
    verdict = config_verdict(text, problem, removed=removed, default_branch=default_branch)
    # The check name comes from the config in force (the one branch protection knows).
    config = await ctx.config()
    existing = await reconcile.latest_check_run(ctx, sha, config.checks.config)
    output = (existing or {}).get("output") or {}
    if (
        existing is not None
        and existing.get("conclusion") == verdict.conclusion
        and output.get("title") == verdict.title
        and output.get("summary") == verdict.summary
    ):
        return  # said already (the summary lists every error, so the annotations match too)
    await reconcile.ensure_check_run(
        ctx,
        existing=existing,
        existing_known=True,
        name=config.checks.config,
        head_sha=sha,
        status="completed",
        conclusion=verdict.conclusion,
        title=verdict.title,
        summary=verdict.summary,
        annotations=verdict.annotations,
    )


@router.register("pull_request", action="opened")
@router.register("pull_request", action="reopened")
@router.register("pull_request", action="synchronize")
async def check_pull_request(event: Event, ctx: Context) -> None:
    pr = event.data["pull_request"]
    default_branch = event.data["repository"].get("default_branch") or "main"
    if ctx.is_bot((pr.get("user") or {}).get("login")):
        return
    # Only the default branch's file is read; devel is where changes head for it. PRs into RC and
    # feature branches cannot change what the bot does, so they are spared the files request.
    if pr["base"]["ref"] not in (default_branch, (await ctx.config()).branches.devel):
        return
    if not await _pr_touches_config(ctx, pr):
        return
    sha = pr["head"]["sha"]
    text, problem, removed = await read_config_at(ctx, sha)
    await _post_verdict(ctx, sha, text, problem, removed, default_branch)


@router.register("push")
async def check_push(event: Event, ctx: Context) -> None:
    push = event.data
    default_branch = (push.get("repository") or {}).get("default_branch")
    if not default_branch or push.get("ref") != f"refs/heads/{default_branch}" or push.get("deleted"):
        return
    touched = push_touches_config(push)
    if touched is False:
        return
    # The next event reads the file again (a conditional GET: 200 with the new file).
    ctx.services.config_store.invalidate(ctx.full_name)
    ctx._loaded = None
    if touched is None:
        return
    sha = push["after"]
    text, problem, removed = await read_config_at(ctx, sha)
    await _post_verdict(ctx, sha, text, problem, removed, default_branch)
