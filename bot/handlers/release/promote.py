"""/promote: tag, release, move production, deploy and hand off an RC whose gate passes."""

from __future__ import annotations

from typing import Any

import gidgethub

from bot.config import RepoConfig
from bot.handlers.commands import CommandReply, CommandSet
from bot.handlers.context import Context
from bot.handlers.release.facts import branch_head, is_on, release_tags
from bot.handlers.release.gate import evaluate_gate
from bot.handlers.release.record import tracking_context, tracking_head
from bot.rules import release as rules
from bot.rules.commands import Command
from bot.rules.gate import GateVerdict
from bot.rules.names import label_names
from bot.rules.text import no_pings

commands = CommandSet()


async def _release_for(ctx: Context, tag: str) -> dict[str, Any] | None:
    try:
        return await ctx.gh.getitem("/repos/{owner}/{repo}/releases/tags/{tag}", {**ctx.repo_vars, "tag": tag})
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) == 404:
            return None
        raise


async def _deployment_for(ctx: Context, config: RepoConfig, sha: str, tag: str) -> dict[str, Any] | None:
    async for deployment in ctx.gh.getiter(
        "/repos/{owner}/{repo}/deployments{?sha,environment,per_page}",
        {**ctx.repo_vars, "sha": sha, "environment": config.release.environment, "per_page": 100},
    ):
        if (deployment.get("payload") or {}).get("tag") == tag:
            return deployment
    return None


@commands.command(
    "promote",
    roles=("rte",),
    usage="/promote",
    summary="tag, release, deploy and hand off the RC's head once the gate passes",
    where="tracking",
    about_head=tracking_head,
)
async def promote(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    found = await tracking_context(ctx, issue)
    if isinstance(found, CommandReply):
        return found
    config, version, head = found
    tracking = issue
    tags = await release_tags(ctx, config)
    production = config.branches.production
    production_sha = await branch_head(ctx, production) if production else None
    can_ff = True
    if production and production_sha and production_sha != head:
        can_ff = await is_on(ctx, production_sha, head)
    on_head = [t for t in tags if t.sha == head and config.names.tag_version(t.name) == version]
    done: set[str] = set()
    if on_head:
        tag = max(on_head, key=lambda t: (config.names.parse_tag(t.name) or ("", 0))[1]).name
        if await _release_for(ctx, tag):
            done.add("release")
        if production_sha == head:
            done.add("production")
        if await _deployment_for(ctx, config, head, tag):
            done.add("deployment")
        if await ctx.api.find_bot_comment(tracking["number"], f"handoff:{tag}"):
            done.add("handoff")
        if config.labels.released in label_names(tracking):
            done.add("released_label")
        verdict = GateVerdict(head, ())
    else:
        evaluation = await evaluate_gate(ctx, config, version, head_sha=head, tracking=tracking)
        verdict = evaluation.verdict if evaluation else GateVerdict(head, ())
    plan = rules.promote_plan(
        rules.PromoteFacts(
            version=version,
            head_sha=head,
            tag_template=config.release.tag,
            tags=tags,
            verdict=verdict,
            production_branch=production,
            production_sha=production_sha,
            production_can_ff=can_ff,
            done=frozenset(done),
        )
    )
    if not plan.ok:
        return CommandReply(
            False,
            f"I did not promote `{config.names.rc_branch(version)}` at `{head[:7]}`; nothing was changed. What is missing:\n\n"
            + rules.refusal_table(plan.refusals),
        )
    if plan.already_promoted and not plan.steps:
        release = await _release_for(ctx, plan.tag)
        link = f" ({release['html_url']})" if release and release.get("html_url") else ""
        return CommandReply(True, f"`{head[:7]}` is already promoted as `{plan.tag}`{link}. Nothing was changed.")
    login = comment["user"]["login"]
    release_url = ""
    for step in plan.steps:
        if step == "tag":
            await _create_tag(ctx, plan, login)
        elif step == "release":
            release = await _release_for(ctx, plan.tag) or await _create_release(ctx, plan)
            release_url = release.get("html_url") or ""
        elif step == "production" and production:
            if production_sha is None:
                await ctx.gh.post(
                    "/repos/{owner}/{repo}/git/refs",
                    ctx.repo_vars,
                    data={"ref": f"refs/heads/{production}", "sha": head},
                )
            else:
                await ctx.gh.patch(
                    "/repos/{owner}/{repo}/git/refs/{ref}",
                    {**ctx.repo_vars, "ref": f"heads/{production}"},
                    data={"sha": head, "force": False},
                )
        elif step == "deployment":
            await ctx.gh.post(
                "/repos/{owner}/{repo}/deployments",
                ctx.repo_vars,
                data={
                    "ref": head,
                    "environment": config.release.environment,
                    "payload": {"version": version, "tag": plan.tag, "sha": head},
                    "description": f"Release {plan.tag}",
                    "auto_merge": False,
                    "required_contexts": [],
                },
            )
        elif step == "handoff":
            teams = " ".join(t if t.startswith("@") else f"@{t}" for t in config.release.handoff)
            release_url = release_url or ((await _release_for(ctx, plan.tag)) or {}).get("html_url", "")
            await ctx.api.post_once(
                tracking["number"],
                f"handoff:{plan.tag}",
                f"🚀 `{plan.tag}` is promoted (`{head[:7]}`), released{f' ({release_url})' if release_url else ''} and a "
                f"`{config.release.environment}` deployment is waiting for operations."
                + (f"\n\n{teams}: over to you for the production deployment." if teams else ""),
            )
        elif step == "released_label":
            await ctx.api.add_labels(tracking["number"], [config.labels.released], present=label_names(tracking))
    await evaluate_gate(ctx, config, version, head_sha=head, tracking=tracking)
    done_words = ", ".join(plan.steps)
    return CommandReply(
        True,
        f"{'Finished promoting' if plan.already_promoted else 'Promoted'} `{config.names.rc_branch(version)}` at `{head[:7]}` as `{plan.tag}` ({done_words}).",
    )


async def _create_tag(ctx: Context, plan: rules.PromotePlan, login: str) -> None:
    tag_object = await ctx.gh.post(
        "/repos/{owner}/{repo}/git/tags",
        ctx.repo_vars,
        data={
            "tag": plan.tag,
            "message": f"Release {plan.tag} (promoted by {login})",
            "object": plan.sha,
            "type": "commit",
        },
    )
    try:
        await ctx.gh.post(
            "/repos/{owner}/{repo}/git/refs",
            ctx.repo_vars,
            data={"ref": f"refs/tags/{plan.tag}", "sha": tag_object["sha"]},
        )
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) != 422:
            raise
        # Made by an earlier attempt of this job: fine only when it names the same commit.
        tags = {t.name: t.sha for t in await release_tags(ctx, await ctx.config())}
        if tags.get(plan.tag) != plan.sha:
            raise


async def _create_release(ctx: Context, plan: rules.PromotePlan) -> dict[str, Any]:
    notes_request: dict[str, Any] = {"tag_name": plan.tag, "target_commitish": plan.sha}
    if plan.previous_tag:
        notes_request["previous_tag_name"] = plan.previous_tag
    notes = await ctx.gh.post("/repos/{owner}/{repo}/releases/generate-notes", ctx.repo_vars, data=notes_request)
    # The notes repeat PR titles and logins; published by the bot, they must not ping anyone.
    return await ctx.gh.post(
        "/repos/{owner}/{repo}/releases",
        ctx.repo_vars,
        data={
            "tag_name": plan.tag,
            "target_commitish": plan.sha,
            "name": notes.get("name") or plan.tag,
            "body": no_pings(notes.get("body") or ""),
        },
    )
