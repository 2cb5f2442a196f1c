"""Slash commands in comments: read each comment once, check the role and the head it speaks of, run, react and reply once."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import gidgethub
import msgspec
from gidgethub import routing
from gidgethub.sansio import Event

from bot.github import events
from bot.github.repo import Activity, Comment, Reaction
from bot.handlers.context import Context
from bot.roles import describe_role
from bot.rules.commands import Command, head_moved_after, meant_command, parse_commands, unknown_command_reply
from bot.rules.names import label_names
from bot.rules.references import commit_link, repository_url
from bot.rules.text import addressed, cell, inline

log = logging.getLogger("release_train.commands")

ROLE_WORDS = {"qa": "QA", "rte": "RTE", "pdm": "PdM", "write": "write access"}


# Reading a command and answering it: a reaction and a reply on the issue or PR.
PERMISSIONS = {"issues": "write"}


class CommandsAPI(Protocol):
    """What reading commands does to GitHub: see whether a comment was answered, see when a head arrived, react to
    the comment, and reply once."""

    async def comment_reactions(self, comment_id: int) -> list[Reaction] | None: ...

    async def branch_activity(self, branch: str) -> tuple[Activity, ...] | None: ...

    async def react(self, comment_id: int, content: str) -> None: ...

    async def post_once(self, number: int, key: str, body: str) -> Comment: ...


@dataclass(frozen=True)
class CommandReply:
    ok: bool  # the bot's 👍 or 👎 on the comment
    message: str  # Markdown, posted as the reply; empty posts no reply
    refused: bool | None = None  # None: a reply that is not ok refuses the command; False: it records a failure

    @property
    def is_refusal(self) -> bool:
        """A refusal answers the commenter, so the reply mentions them (rules.text.addressed)."""
        return not self.ok if self.refused is None else self.refused


CommandFn = Callable[[Context, Command, dict[str, Any], dict[str, Any]], Awaitable[CommandReply]]
# The branch and head a command about a state speaks of, read as it runs; None when there is none.
HeadOf = Callable[[Context, dict[str, Any]], Awaitable[tuple[str, str] | None]]
# The bot's verdict on a comment it has answered; only the bot can take its own reaction back.
VERDICTS = frozenset({"+1", "-1"})


@dataclass(frozen=True)
class CommandSpec:
    name: str
    roles: tuple[str, ...]  # any one of them suffices: ("rte",), ("rte", "pdm"), ("write",)
    usage: str
    summary: str
    where: str  # "any", "pr" or "tracking" (the release tracking issue)
    fn: CommandFn
    about_head: HeadOf | None = None  # refused when that head arrived after the comment was written


@dataclass
class CommandSet:
    """A concern's commands; `handlers/__init__.py` composes the sets like routers."""

    specs: list[CommandSpec] = field(default_factory=list)

    def command(
        self,
        name: str,
        *,
        roles: tuple[str, ...],
        usage: str,
        summary: str,
        where: str = "any",
        about_head: HeadOf | None = None,
    ) -> Callable[[CommandFn], CommandFn]:
        def register(fn: CommandFn) -> CommandFn:
            self.specs.append(CommandSpec(name, roles, usage, summary, where, fn, about_head))
            return fn

        return register


def help_text(specs: list[CommandSpec]) -> str:
    rows = ["| command | who | where | what |", "| --- | --- | --- | --- |"]
    seen: set[str] = set()
    for spec in specs:
        if spec.usage in seen:
            continue
        seen.add(spec.usage)
        who = " or ".join(ROLE_WORDS.get(r, r) for r in spec.roles)
        where = {"any": "any issue or PR", "pr": "a pull request", "tracking": "the release tracking issue"}[spec.where]
        rows.append(f"| `{cell(spec.usage)}` | {cell(who)} | {cell(where)} | {cell(spec.summary)} |")
    return "Release Train commands (at the start of a line):\n\n" + "\n".join(rows)


async def head_arrived_at(api: CommandsAPI, branch: str, head: str) -> str | None:
    """When GitHub saw head arrive on branch: the time of the newest push that left it there (the push
    payload's `repository.pushed_at`, read back from the repository's activity); None when GitHub cannot tell."""
    for item in await api.branch_activity(branch) or ():
        if item.after == head:
            return item.timestamp
    return None


async def answered(api: CommandsAPI, comment_id: int, bot_login: str) -> bool:
    """Whether the bot has already given its verdict on this comment (or the comment is gone)."""
    reactions = await api.comment_reactions(comment_id)
    if reactions is None:
        return True  # deleted: there is no one left to answer
    return any(r.content in VERDICTS and r.user is not None and r.user.login == bot_login for r in reactions)


def said(cmd: Command) -> str:
    """The command and its verb (`/regression pass`), for a reply; the rest is people's text."""
    verb = cmd.args[0] if cmd.args and re.fullmatch(r"[a-z][a-z-]*", cmd.args[0]) else ""
    return f"/{cmd.name} {verb}".strip()


async def stale(ctx: Context, spec: CommandSpec, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> str:
    """Why a command about a head no longer speaks of the current one ("" when it does)."""
    if spec.about_head is None:
        return ""
    found = await spec.about_head(ctx, issue)
    if found is None:
        return ""  # the command itself says what is missing
    branch, head = found
    api: CommandsAPI = ctx.api
    if not head_moved_after(comment["created_at"], await head_arrived_at(api, branch, head)):
        return ""
    at = commit_link(head, repository_url(issue.get("html_url") or ""))
    return (
        f"`{branch}` moved to {at} after this comment was written, so `{said(cmd)}` may speak of a commit "
        f"that is no longer its head. Nothing was changed. If it holds for `{head[:7]}`, say `{said(cmd)}` again."
    )


def build_router(*sets: CommandSet) -> routing.Router:
    specs: list[CommandSpec] = [spec for s in sets for spec in s.specs]
    by_name: dict[str, list[CommandSpec]] = {}
    for spec in specs:
        by_name.setdefault(spec.name, []).append(spec)
    router = routing.Router()

    async def run_one(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
        login = comment["user"]["login"]
        if cmd.name == "help":
            return CommandReply(True, help_text(specs))
        handlers = by_name[cmd.name]
        spec = handlers[0]
        if spec.where == "pr" and "pull_request" not in issue:
            return CommandReply(False, f"`/{cmd.name}` works on pull requests only.")
        if spec.where == "tracking":
            config = await ctx.config()
            if config.labels.tracking not in label_names(issue):
                return CommandReply(
                    False,
                    f"`/{cmd.name}` works on a release tracking issue (labeled `{config.labels.tracking}`).",
                )
            if (issue.get("user") or {}).get("login") != ctx.bot_login:
                # A person's issue may carry the label and a copy of the dashboard; the gate reads only the bot's.
                return CommandReply(
                    False,
                    f"`/{cmd.name}` works on the release tracking issue that I opened, not on a copy of it. Nothing was changed.",
                )
        needs_config = any(r in ("qa", "rte", "pdm") for r in spec.roles)
        loaded = await ctx.loaded_config()
        if needs_config and not loaded.usable:
            return CommandReply(False, loaded.refusal())
        allowed = False
        for role in spec.roles:
            if await ctx.has_role(login, role):
                allowed = True
                break
        if not allowed:
            who = " or ".join(f"{ROLE_WORDS.get(r, r)} ({describe_role(loaded.config, r)})" for r in spec.roles)
            return CommandReply(False, f"`/{cmd.name}` is reserved for the {who} role. Nothing was changed.")
        why_stale = await stale(ctx, spec, cmd, issue, comment)
        if why_stale:
            return CommandReply(False, why_stale)
        messages: list[str] = []
        ok = True
        refused = False
        for handler in handlers:
            try:
                reply = await handler.fn(ctx, cmd, issue, comment)
            except gidgethub.BadRequest as exc:
                # A permanent answer from GitHub (422 and the like): tell the person, do not retry.
                reply = CommandReply(False, f"GitHub refused a step of `/{cmd.name}`: {inline(str(exc))}")
            ok = ok and reply.ok
            refused = refused or reply.is_refusal
            if reply.message:
                messages.append(reply.message)
        return CommandReply(ok, "\n\n".join(messages), refused)

    @router.register("issue_comment", action="created")
    async def on_comment(event: Event, ctx: Context) -> None:
        payload = ctx.payload_of(events.IssueCommentCreated)
        sender = payload.sender
        if ctx.is_bot(sender.login) or sender.type == "Bot":
            return
        known = [*by_name, "help"]
        commands: list[tuple[Command, str | None]] = []  # (command, the known one a mistyped name meant)
        for cmd in parse_commands(payload.comment.body):
            if cmd.name in known:
                commands.append((cmd, None))
            elif meant := meant_command(cmd.name, known):
                commands.append((cmd, meant))
        if not commands:
            return
        comment_id, number = payload.comment.id, payload.issue.number
        # Every concern's command function (CommandFn) takes the issue and the comment as the payload holds
        # them; the record above has already checked both against GitHub's schema.
        issue, comment = event.data["issue"], event.data["comment"]
        if payload.comment.user is None:
            # The schema lets the author be null; a new comment's author is the one who sent it.
            comment = {**comment, "user": msgspec.to_builtins(sender)}
        api: CommandsAPI = ctx.api
        # Once per comment, whichever delivery carries it: a replay under a new delivery id finds the verdict.
        if await answered(api, comment_id, ctx.bot_login):
            log.info("comment %s was answered before; delivery %s ignored", comment_id, event.delivery_id)
            return
        await api.react(comment_id, "eyes")
        all_ok = True
        for cmd, meant in commands:
            if meant:
                reply = CommandReply(False, unknown_command_reply(cmd.name, meant))
            else:
                reply = await run_one(ctx, cmd, issue, comment)
            all_ok = all_ok and reply.ok
            if reply.message:
                text = addressed(sender.login, reply.message) if reply.is_refusal else reply.message
                await api.post_once(number, f"reply:{comment_id}:{cmd.index}", text)
        await api.react(comment_id, "+1" if all_ok else "-1")

    return router
