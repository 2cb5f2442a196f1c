"""QA's and PdM's word on an RC from its tracking issue: /regression, /signoff, /hold, /unhold and /refresh."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from bot.config import RepoConfig
from bot.github.repo import CheckRun, Issue
from bot.handlers.commands import CommandReply, CommandSet
from bot.handlers.context import Context
from bot.handlers.release import record as records
from bot.handlers.release.facts import commit_ref, labeled_issues, web_url
from bot.handlers.release.gate import Evaluation, evaluate_gate
from bot.rules import gate as rules
from bot.rules.commands import Command
from bot.rules.names import label_names
from bot.rules.release_state import REGRESSION_CHECK
from bot.rules.text import inline, marker, plain_line, quoted

commands = CommandSet()


class SignalsAPI(Protocol):
    """What QA's and PdM's word does to GitHub: their check runs on the RC head, and the regression bug."""

    async def create_issue(self, *, title: str, body: str, labels: Collection[str] = ...) -> Issue: ...

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


@commands.command(
    "regression",
    roles=("qa",),
    usage="/regression pass | /regression fail <summary>",
    summary="record QA's regression result on the RC head; a failure opens a blocker bug",
    where="tracking",
    about_head=records.tracking_head,
)
async def regression(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    verb = cmd.args[0].lower() if cmd.args else ""
    if verb not in ("pass", "fail"):
        return CommandReply(False, "Usage: `/regression pass` or `/regression fail <summary>`.")
    summary_text = cmd.text[len(cmd.args[0]) :].strip() if verb == "fail" else ""
    if verb == "fail" and not summary_text:
        return CommandReply(False, "Say what failed: `/regression fail <summary>`.")
    found = await records.tracking_context(ctx, issue)
    if isinstance(found, CommandReply):
        return found
    config, version, head = found
    api: SignalsAPI = ctx.api
    login = comment["user"]["login"]
    short = head[:7]
    if verb == "pass":
        await api.ensure_check_run(
            name=REGRESSION_CHECK,
            head_sha=head,
            status="completed",
            conclusion="success",
            title=f"Regression passed (QA: {plain_line(login)})",
            summary=f"Recorded by `/regression pass` from {inline(login)} on #{issue['number']} for `{short}`.",
            external_id=login,
        )
        message = f"Recorded regression **passed** on `{config.names.rc_branch(version)}` at {commit_ref(ctx, head)}."
    else:
        bug = await _regression_bug(ctx, config, version, head, issue, comment, summary_text)
        await api.ensure_check_run(
            name=REGRESSION_CHECK,
            head_sha=head,
            status="completed",
            conclusion="failure",
            title=f"Regression failed: {plain_line(summary_text, 120)}",
            summary=f"Recorded by `/regression fail` from {inline(login)} on #{issue['number']} for `{short}`; bug #{bug.number}.",
            external_id=login,
        )
        message = f"Recorded regression **failed** at {commit_ref(ctx, head)} and opened blocker bug #{bug.number}."
    evaluation = await evaluate_gate(ctx, config, version, head_sha=head, tracking=issue)
    # 👎 for a failed regression, which is recorded, not refused.
    return CommandReply(verb == "pass", message + _gate_line(evaluation), refused=False)


async def _regression_bug(
    ctx: Context,
    config: RepoConfig,
    version: str,
    head: str,
    tracking: dict[str, Any],
    comment: dict[str, Any],
    summary: str,
) -> Issue:
    """The bug a failed regression opens, exactly once per command comment."""
    key = marker(f"regression-bug:{comment['id']}")
    labels = [config.labels.bug, config.labels.blocker, config.names.rc_label(version)]
    for existing in await labeled_issues(ctx, labels, state="all"):
        # A person's issue may carry a copy of the marker; only the bot's own bug counts.
        if key in (existing.body or "") and existing.author == ctx.bot_login:
            return existing
    login = comment["user"]["login"]
    body = (
        f"{key}\nRegression failed on `{config.names.rc_branch(version)}` at [`{head[:7]}`]({web_url(ctx, f'/commit/{head}')}).\n\n"
        f"Found by QA: {inline(login)} ([comment]({comment.get('html_url', '')})) in #{tracking['number']}.\n\n"
        f"{quoted(summary)}\n\nThis bug blocks the RC until QA or the RTE closes it or takes the `{config.labels.blocker}` label "
        "off."
    )
    api: SignalsAPI = ctx.api
    return await api.create_issue(
        title=f"Regression on {config.names.rc_branch(version)}: {plain_line(summary, 120)}", body=body, labels=labels
    )


def _gate_line(evaluation: Evaluation | None) -> str:
    if evaluation is None:
        return ""
    return f"\n\nGate: **{evaluation.verdict.title}**\n\n{rules.gate_table(evaluation.verdict)}"


@commands.command(
    "signoff",
    roles=("pdm",),
    usage="/signoff",
    summary="PdM signs off the RC's current head",
    where="tracking",
    about_head=records.tracking_head,
)
async def signoff(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    found = await records.tracking_context(ctx, issue)
    if isinstance(found, CommandReply):
        return found
    config, version, head = found
    api: SignalsAPI = ctx.api
    login = comment["user"]["login"]
    await api.ensure_check_run(
        name=config.checks.signoff,
        head_sha=head,
        status="completed",
        conclusion="success",
        title=f"Signed off by {plain_line(login)}",
        summary=f"`/signoff` from {inline(login)} on #{issue['number']} for `{head[:7]}`.",
        external_id=login,
    )
    evaluation = await evaluate_gate(ctx, config, version, head_sha=head, tracking=issue)
    return CommandReply(
        True,
        f"Signed off `{config.names.rc_branch(version)}` at {commit_ref(ctx, head)}; "
        "a new commit will need a new sign-off." + _gate_line(evaluation),
    )


HOLD_REASON_LIMIT = 1000


@commands.command(
    "hold", roles=("rte", "pdm"), usage="/hold <reason>", summary="stop promotion until /unhold", where="tracking"
)
async def hold(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    if not cmd.text:
        return CommandReply(False, "Say why: `/hold <reason>`.")
    found = await records.tracking_context(ctx, issue)
    if isinstance(found, CommandReply):
        return found
    config, version, head = found
    login = comment["user"]["login"]
    state = await records.read_state(ctx, config, version, head)
    if state.record is None:
        return CommandReply(False, f"I have no record of `{state.branch}`, so there is nothing to change.")
    # The reason is repeated in the tracking issue's body, which GitHub caps at 65536 characters.
    reason = cmd.text if len(cmd.text) <= HOLD_REASON_LIMIT else cmd.text[: HOLD_REASON_LIMIT - 1] + "…"
    record = state.record.held(reason, login, comment.get("created_at") or "")
    await records.save(ctx, config, record, head)
    release = dataclasses.replace(state, record=record, record_sha=head)
    evaluation = await evaluate_gate(ctx, config, version, head_sha=head, tracking=issue, release=release)
    return CommandReply(
        True,
        f"`{config.names.rc_branch(version)}` is on hold: {inline(cmd.text)}. `/unhold` releases it."
        + _gate_line(evaluation),
    )


@commands.command("unhold", roles=("rte", "pdm"), usage="/unhold", summary="release a hold", where="tracking")
async def unhold(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    found = await records.tracking_context(ctx, issue)
    if isinstance(found, CommandReply):
        return found
    config, version, head = found
    state = await records.read_state(ctx, config, version, head)
    if state.record is None:
        return CommandReply(False, f"I have no record of `{state.branch}`, so there is nothing to change.")
    record = state.record.unheld()
    if record != state.record:
        await records.save(ctx, config, record, head)
    release = dataclasses.replace(state, record=record, record_sha=head)
    evaluation = await evaluate_gate(ctx, config, version, head_sha=head, tracking=issue, release=release)
    return CommandReply(True, f"Hold released on `{config.names.rc_branch(version)}`." + _gate_line(evaluation))


@commands.command(
    "refresh",
    roles=("write",),
    usage="/refresh",
    summary="re-read GitHub and bring checks and comments up to date",
    where="any",
)
async def refresh(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    config = await ctx.config()
    if config.labels.tracking not in label_names(issue):
        return CommandReply(True, "")
    version = await records.version_of_tracking(ctx, config, issue)
    if version is None:
        return CommandReply(True, "")
    evaluation = await evaluate_gate(ctx, config, version, tracking=issue)
    return CommandReply(True, f"Re-evaluated the gate of `{config.names.rc_branch(version)}`." + _gate_line(evaluation))
