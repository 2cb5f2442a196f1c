"""/promote: re-check the gate on the RC head, then tag, release, move production, deploy and hand off; no tag it did not make."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Protocol

import gidgethub
from gidgethub import routing
from gidgethub.sansio import Event

from bot.config import RepoConfig
from bot.github import events
from bot.github.repo import Comment, Deployment, GitRef, Release, ReleaseNotes
from bot.handlers.commands import CommandReply, CommandSet
from bot.handlers.context import Context
from bot.handlers.release import record as records
from bot.handlers.release.facts import branch_head, commit_ref, is_on, release_tags
from bot.handlers.release.gate import evaluate_gate
from bot.rules import release as rules
from bot.rules.commands import Command
from bot.rules.gate import GateVerdict
from bot.rules.names import label_names
from bot.rules.release_state import ForeignTag, Promotion, ReleaseRecord
from bot.rules.text import no_pings


class PromoteAPI(Protocol):
    """What promoting does to GitHub: read and make the release tag, the release, production's move, the
    deployment, and the hand-off comment and label on the tracking issue."""

    async def matching_refs(self, prefix: str) -> tuple[GitRef, ...]: ...

    async def create_tag_object(self, tag: str, message: str, sha: str) -> str: ...

    async def create_ref(self, ref: str, sha: str) -> GitRef: ...

    async def update_ref(self, ref: str, sha: str, *, force: bool = False) -> GitRef: ...

    async def release_by_tag(self, tag: str) -> Release | None: ...

    async def generate_release_notes(
        self, tag: str, target: str, *, previous_tag: str | None = None
    ) -> ReleaseNotes: ...

    async def create_release(self, *, tag: str, target: str, name: str, body: str) -> Release: ...

    def deployments(self, *, sha: str | None = None, environment: str | None = None) -> AsyncIterator[Deployment]: ...

    async def create_deployment(
        self, *, ref: str, environment: str, payload: Mapping[str, Any], description: str
    ) -> Deployment: ...

    async def find_bot_comment(self, number: int, key: str) -> Comment | None: ...

    async def post_once(self, number: int, key: str, body: str) -> Comment: ...

    async def add_labels(self, number: int, labels: Iterable[str], *, present: Iterable[str] = ()) -> None: ...


router = routing.Router()
commands = CommandSet()


async def _deployment_for(api: PromoteAPI, config: RepoConfig, sha: str, tag: str) -> Deployment | None:
    async for deployment in api.deployments(sha=sha, environment=config.release.environment):
        if deployment.payload_fields.get("tag") == tag:
            return deployment
    return None


async def _done_on_github(
    api: PromoteAPI, config: RepoConfig, tag: str, head: str, production_sha: str | None, tracking: Mapping[str, Any]
) -> frozenset[str]:
    """The steps after the tag that GitHub shows done for this tag (each step is checked, not remembered)."""
    done = set()
    if await api.release_by_tag(tag):
        done.add("release")
    if production_sha == head:
        done.add("production")
    if await _deployment_for(api, config, head, tag):
        done.add("deployment")
    if await api.find_bot_comment(tracking["number"], f"handoff:{tag}"):
        done.add("handoff")
    if config.labels.released in label_names(tracking):
        done.add("released_label")
    return frozenset(done)


@commands.command(
    "promote",
    roles=("rte",),
    usage="/promote",
    summary="tag, release, deploy and hand off the RC's head once the gate passes",
    where="tracking",
    about_head=records.tracking_head,
)
async def promote(ctx: Context, cmd: Command, issue: dict[str, Any], comment: dict[str, Any]) -> CommandReply:
    api: PromoteAPI = ctx.api
    found = await records.tracking_context(ctx, issue)
    if isinstance(found, CommandReply):
        return found
    config, version, head = found
    tracking = issue
    branch = config.names.rc_branch(version)
    # The gate on head, every time: a resumed promotion included.
    evaluation = await evaluate_gate(ctx, config, version, head_sha=head, tracking=tracking)
    verdict = evaluation.verdict if evaluation else GateVerdict(head, ())
    record = (evaluation.release.record if evaluation else None) or ReleaseRecord(version)
    tags = await release_tags(ctx, config)
    production = config.branches.production
    production_sha = await branch_head(ctx, production) if production else None
    can_ff = True
    if production and production_sha and production_sha != head:
        can_ff = await is_on(ctx, production_sha, head)
    current = next((p for p in reversed(record.promotions) if p.sha == head), None)
    done: frozenset[str] = frozenset()
    if current is not None:
        done = await _done_on_github(api, config, current.tag, head, production_sha, tracking)
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
            done=done,
            promotions=record.promotions,
            made_by={t.tag: t.by for t in record.foreign_tags},
        )
    )
    if not plan.ok:
        return CommandReply(
            False,
            f"I did not promote `{branch}` at {commit_ref(ctx, head)}; nothing was changed. What is missing:\n\n"
            + rules.refusal_table(plan.refusals),
        )
    if plan.already_promoted and not plan.steps:
        release = await api.release_by_tag(plan.tag)
        link = f" ({release.html_url})" if release and release.html_url else ""
        return CommandReply(
            True, f"{commit_ref(ctx, head)} is already promoted as `{plan.tag}`{link}. Nothing was changed."
        )
    login = comment["user"]["login"]
    promotion = current if current is not None and current.tag == plan.tag else Promotion(plan.tag, head, login)
    release_url = ""
    for step in plan.steps:
        if step == "tag":
            tagged = await _tag(ctx, config, record, promotion, plan, login)
            if isinstance(tagged, str):
                return CommandReply(False, f"I stopped promoting `{branch}` at {commit_ref(ctx, head)}: {tagged}.")
            promotion = tagged
            record = record.with_promotion(promotion)
        elif step == "release":
            release = await api.release_by_tag(plan.tag) or await _create_release(api, plan)
            release_url = release.html_url
        elif step == "production" and production:
            if production_sha is None:
                await api.create_ref(f"refs/heads/{production}", head)
            else:
                await api.update_ref(f"heads/{production}", head)
        elif step == "deployment":
            await api.create_deployment(
                ref=head,
                environment=config.release.environment,
                payload={"version": version, "tag": plan.tag, "sha": head},
                description=f"Release {plan.tag}",
            )
        elif step == "handoff":
            teams = " ".join(t if t.startswith("@") else f"@{t}" for t in config.release.handoff)
            if not release_url:
                release = await api.release_by_tag(plan.tag)
                release_url = release.html_url if release else ""
            await api.post_once(
                tracking["number"],
                f"handoff:{plan.tag}",
                f"🚀 `{plan.tag}` is promoted ({commit_ref(ctx, head)}), released{f' ({release_url})' if release_url else ''} and a "
                f"`{config.release.environment}` deployment is waiting for operations."
                + (f"\n\n{teams}: over to you for the production deployment." if teams else ""),
            )
        elif step == "released_label":
            await api.add_labels(tracking["number"], [config.labels.released], present=label_names(tracking))
    promotion = dataclasses.replace(
        promotion, done=tuple(s for s in rules.PROMOTE_STEPS if s in {*promotion.done, *done, *plan.steps})
    )
    await records.save(ctx, config, record.with_promotion(promotion), head)
    await evaluate_gate(ctx, config, version, head_sha=head, tracking=tracking)
    did = rules.promotion_words(
        plan.steps, plan.tag, release_url=release_url, production=production, environment=config.release.environment
    )
    at = commit_ref(ctx, head)
    if plan.already_promoted:
        return CommandReply(True, f"Finished promoting `{branch}` at {at} as `{plan.tag}`: I {did}.")
    return CommandReply(True, f"Promoted `{branch}` at {at} as `{plan.tag}`: I {did}.")


async def _tag(
    ctx: Context, config: RepoConfig, record: ReleaseRecord, promotion: Promotion, plan: rules.PromotePlan, login: str
) -> Promotion | str:
    """The release tag, made so that the record can tell it from anyone else's: the annotated tag object
    is recorded before any ref names it, and the ref is made only where no tag of that name exists.
    A string says why not: someone made the tag in between."""
    api: PromoteAPI = ctx.api
    tag_object = await api.create_tag_object(plan.tag, f"Release {plan.tag} (promoted by {login})", plan.sha)
    promotion = dataclasses.replace(promotion, tag_object=tag_object)
    await records.save(ctx, config, record.with_promotion(promotion), plan.sha)
    try:
        await api.create_ref(f"refs/tags/{plan.tag}", tag_object)
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) != 422:
            raise
        # Made meanwhile by someone else: an earlier attempt of this job recorded the object it made.
        by = record.maker_of(plan.tag)
        who = f"made by {no_pings('@' + by)}" if by else "I did not see who made it"
        return f"`{plan.tag}` appeared while I was promoting and I did not make it ({who}); nothing else was changed"
    return promotion


async def _create_release(api: PromoteAPI, plan: rules.PromotePlan) -> Release:
    notes = await api.generate_release_notes(plan.tag, plan.sha, previous_tag=plan.previous_tag)
    # The notes repeat PR titles and logins; published by the bot, they must not ping or link anyone.
    return await api.create_release(
        tag=plan.tag, target=plan.sha, name=notes.name or plan.tag, body=rules.published_notes(notes.body or "")
    )


@router.register("create")
async def on_tag_made(event: Event, ctx: Context) -> None:
    """Someone other than the bot made a release tag of an RC: the RC's record says who, for /promote's refusal."""
    made = ctx.payload_of(events.Create)
    if made.ref_type != "tag" or ctx.is_bot(made.sender.login):
        return
    config = await ctx.config()
    version = config.names.tag_version(made.ref)
    if version is None:
        return
    head = await branch_head(ctx, config.names.rc_branch(version))
    if head is None:
        return
    state = await records.read_state(ctx, config, version, head, head_runs=())
    if state.record is None:
        return  # an RC the bot did not start: it promotes nothing there
    tag = next((t for t in await release_tags(ctx, config) if t.name == made.ref), None)
    if tag is None or rules.made_by_the_bot(tag, state.record.promotions):
        return
    noted = state.record.with_foreign_tag(ForeignTag(made.ref, tag.object_sha, made.sender.login))
    if noted != state.record:
        await records.save(ctx, config, noted, head)
