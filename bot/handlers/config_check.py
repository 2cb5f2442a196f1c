"""The release-train/config check on commits that change .github/release-train.yml."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import gidgethub
from gidgethub import routing
from gidgethub.sansio import Event

from bot.config import CONFIG_PATH, ConfigError, parse_config
from bot.config.summary import config_sentences, config_warnings
from bot.github import events
from bot.github.repo import ChangedFile, CheckRun, ContentFile, PullRequest, Team
from bot.handlers.commands import CommandReply, CommandSet
from bot.handlers.context import Context, as_pull
from bot.repo_config import decode_config_file, push_touches_config
from bot.roles import member_facts
from bot.rules.commands import Command
from bot.rules.role_members import RoleFindings, role_findings
from bot.rules.text import inline

log = logging.getLogger("release_train.config_check")

router = routing.Router()
# The installation permissions this concern's jobs need: it reads the config file on a PR's head, looks up the
# teams and people its roles name, and posts the config check.
PERMISSIONS = {"contents": "read", "pull_requests": "read", "checks": "write", "members": "read"}
commands = CommandSet()

ANNOTATIONS_PER_REQUEST = 50
NOT_LOOKED_UP = RoleFindings()  # the roles' names were not looked up on GitHub


class ConfigCheckAPI(Protocol):
    """What the config check does to GitHub: read the file at a commit, list a PR's files, look up the roles'
    teams and people, write its check."""

    @property
    def full_name(self) -> str: ...

    async def team(self, org: str, team_slug: str) -> Team | None: ...

    async def team_access(self, org: str, team_slug: str) -> str: ...

    async def person_access(self, login: str) -> str | None: ...

    async def file(self, path: str, *, ref: str | None = ...) -> ContentFile | None: ...

    def pull_files(self, number: int) -> AsyncIterator[ChangedFile]: ...

    async def pull(self, number: int) -> PullRequest: ...

    async def latest_check_run(self, sha: str, name: str) -> CheckRun | None: ...

    async def ensure_check_run(
        self,
        *,
        name: str,
        head_sha: str,
        status: str,
        conclusion: str | None = ...,
        title: str,
        summary: str,
        text: str | None = ...,
        annotations: Sequence[Mapping[str, Any]] = ...,
        details_url: str | None = ...,
        external_id: str | None = ...,
        existing: CheckRun | None = ...,
        existing_known: bool = ...,
        update_completed: bool = ...,
    ) -> CheckRun: ...


@dataclass(frozen=True)
class ConfigVerdict:
    conclusion: str  # success | failure
    title: str
    summary: str
    annotations: tuple[dict[str, Any], ...]


def config_verdict(
    text: str | None,
    problem: ConfigError | None,
    *,
    removed: bool,
    default_branch: str,
    roles: RoleFindings = NOT_LOOKED_UP,
) -> ConfigVerdict:
    """The check that a version of the config file deserves (pure); `roles` is what GitHub said of its names."""
    if removed:
        return ConfigVerdict(
            "success",
            "No configuration file: the defaults apply",
            f"`{CONFIG_PATH}` is absent in this commit, so every setting takes its default.",
            (),
        )
    parsed = parse_config(text) if problem is None else None
    errors = (problem,) if problem is not None else parsed.errors if parsed is not None else ()
    if not errors:
        errors = roles.errors
    unchecked = "".join(f"\n- {inline(str(w), 500)}" for w in roles.warnings)
    unchecked = f"\n\nNot checked:{unchecked}" if unchecked else ""
    if not errors:
        summary = f"`{CONFIG_PATH}` is valid."
        if parsed is not None and parsed.config is not None:
            summary += "\n\n" + "\n".join(config_sentences(parsed.config))
            summary += "".join(f"\n\n{w}" for w in config_warnings(parsed.config))
        return ConfigVerdict("success", "Configuration is valid", summary + unchecked, ())
    count = f"{len(errors)} problem{'s' if len(errors) != 1 else ''}"
    listing = "\n".join(f"- {inline(str(e), 500)}" for e in errors)
    summary = (
        f"`{CONFIG_PATH}` has {count}. Until a valid version is on `{default_branch}`, Release Train keeps "
        f"using the last valid configuration it read (or, with none, refuses role-gated actions).\n\n{listing}"
    )
    if errors is roles.errors:
        summary = (
            f"`{CONFIG_PATH}` has {count}: its roles name teams or people that cannot act in this repository. "
            f"Release Train reads the file as written, so a role whose every name is wrong is held by no one. "
            f"Fix the name, or create the team and give it access, then push again or comment `/refresh` on the PR."
            f"\n\n{listing}{unchecked}"
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


async def roles_at(api: ConfigCheckAPI, text: str | None, problem: ConfigError | None) -> RoleFindings:
    """What GitHub says of the names in the roles of a file that reads cleanly (nothing for one that does not)."""
    if problem is not None:
        return NOT_LOOKED_UP
    parsed = parse_config(text)
    if parsed.config is None:
        return NOT_LOOKED_UP
    facts = await member_facts(api, parsed.config.roles)
    return role_findings(parsed.config.roles, facts, parsed.lines, repository=api.full_name)


async def read_config_at(api: ConfigCheckAPI, ref: str) -> tuple[str | None, ConfigError | None, bool]:
    """(text, problem, removed) of the config file at a commit."""
    answer = await api.file(CONFIG_PATH, ref=ref)
    if answer is None:
        return None, None, True
    text, problem = decode_config_file(answer)
    return text, problem, False


async def _pr_touches_config(api: ConfigCheckAPI, pr: PullRequest) -> bool:
    try:
        async for changed in api.pull_files(pr.number):
            if CONFIG_PATH in (changed.filename, changed.previous_filename):
                return True
        return False
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) != 404:
            raise
    # Without the files endpoint: compare the file at both ends.
    head = await read_config_at(api, pr.head.sha)
    base = await read_config_at(api, pr.base.sha)
    return head != base


async def _post_verdict(
    ctx: Context, sha: str, text: str | None, problem: ConfigError | None, removed: bool, default_branch: str
) -> ConfigVerdict:
    api: ConfigCheckAPI = ctx.api
    roles = NOT_LOOKED_UP if removed else await roles_at(api, text, problem)
    verdict = config_verdict(text, problem, removed=removed, default_branch=default_branch, roles=roles)
    # The check name comes from the config in force (the one branch protection knows).
    config = await ctx.config()
    existing = await api.latest_check_run(sha, config.checks.config)
    if (
        existing is not None
        and existing.conclusion == verdict.conclusion
        and existing.output.title == verdict.title
        and existing.output.summary == verdict.summary
    ):
        return verdict  # said already (the summary lists every error, so the annotations match too)
    await api.ensure_check_run(
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
    return verdict


async def _check_pull(ctx: Context, pr: PullRequest, default_branch: str) -> ConfigVerdict | None:
    """The PR's config check, posted when the PR changes the file; None when it does not."""
    # Only the default branch's file is read; devel is where changes head for it. PRs into RC and
    # feature branches cannot change what the bot does, so they are spared the files request.
    if pr.base.ref not in (default_branch, (await ctx.config()).branches.devel):
        return None
    if not await _pr_touches_config(ctx.api, pr):
        return None
    sha = pr.head.sha
    text, problem, removed = await read_config_at(ctx.api, sha)
    return await _post_verdict(ctx, sha, text, problem, removed, default_branch)


@router.register("pull_request", action="opened")
@router.register("pull_request", action="reopened")
@router.register("pull_request", action="synchronize")
async def check_pull_request(event: Event, ctx: Context) -> None:
    payload = ctx.payload_of(events.PullRequestEvent)
    pr = as_pull(payload.pull_request)
    if ctx.is_bot(pr.author):
        return
    await _check_pull(ctx, pr, payload.repository.default_branch)


@commands.command(
    "refresh",
    roles=("write",),
    usage="/refresh",
    summary="re-read the configuration and team membership now, then re-check this issue or PR",
    where="any",
)
async def refresh_command(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    """On a PR that changes the config, its check again: a team created since is looked up anew."""
    if "pull_request" not in issue:
        return CommandReply(True, "")
    pr = await ctx.api.pull(issue["number"])
    if pr.state != "open":
        return CommandReply(True, "")
    repository = ctx.payload.repository
    default_branch = repository.default_branch if isinstance(repository, events.Repository) else "main"
    verdict = await _check_pull(ctx, pr, default_branch)
    return CommandReply(True, f"Configuration check: {verdict.title}." if verdict else "")


@router.register("push")
async def check_push(event: Event, ctx: Context) -> None:
    push = ctx.payload_of(events.Push)
    default_branch = push.repository.default_branch
    if push.ref != f"refs/heads/{default_branch}" or push.deleted:
        return
    # The processor dropped the cached config before dispatch when the push may have changed it.
    if push_touches_config(event.data) is not True:
        return
    sha = push.after
    text, problem, removed = await read_config_at(ctx.api, sha)
    await _post_verdict(ctx, sha, text, problem, removed, default_branch)
