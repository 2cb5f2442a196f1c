"""The production deployment rule: answer `deployment_protection_rule`, approving only a commit this app promoted with a green gate."""

from __future__ import annotations

import logging
import re
from typing import Protocol

from gidgethub import routing
from gidgethub.sansio import Event

from bot.github import events
from bot.github.repo import CheckRun
from bot.handlers.commands import CommandSet
from bot.handlers.context import Context
from bot.handlers.release import record as records
from bot.handlers.release.facts import rc_heads, release_tags
from bot.rules import release as rules

log = logging.getLogger("release_train.deployments")

# Reading the record, the tags and the gate; answering the waiting run (GitHub asks for actions: read and
# deployments: write of an app with a custom deployment protection rule).
PERMISSIONS = {"actions": "read", "deployments": "write", "checks": "read", "contents": "read"}
_RUN = re.compile(r"/actions/runs/([0-9]+)/deployment_protection_rule$")


class DeploymentRuleAPI(Protocol):
    """What answering the rule asks of GitHub: this app's gate on the commit, and the answer itself."""

    async def latest_check_run(self, sha: str, name: str) -> CheckRun | None: ...

    async def review_deployment_protection_rule(
        self, run_id: int, *, environment: str, approve: bool, comment: str
    ) -> None: ...


router = routing.Router()
commands = CommandSet()


async def gather(ctx: Context, environment: str, sha: str) -> rules.DeploymentFacts:
    """The job's commit as the record and the gate see it: the bot's own release tags naming it, and its gate."""
    api: DeploymentRuleAPI = ctx.api
    config = await ctx.config()
    facts = rules.DeploymentFacts(environment, sha, config.release.environment)
    if environment != config.release.environment:
        return facts
    naming = [t for t in await release_tags(ctx, config) if t.sha == sha]
    heads = await rc_heads(ctx, config)
    promoted, others = [], []
    for tag in naming:
        version = config.names.tag_version(tag.name)
        record = None
        if version in heads:
            record = (await records.read_state(ctx, config, version, heads[version], head_runs=())).record
        if record is not None and rules.made_by_the_bot(tag, record.promotions):
            promoted.append(tag.name)
        else:
            others.append(tag.name)
    gate = await api.latest_check_run(sha, config.checks.gate) if promoted else None
    return rules.DeploymentFacts(
        environment,
        sha,
        config.release.environment,
        promoted=tuple(sorted(promoted)),
        gate_passed=gate is not None and gate.status == "completed" and gate.conclusion == "success",
        release_tags=tuple(sorted(others)),
    )


@router.register("deployment_protection_rule", action="requested")
async def on_rule_requested(event: Event, ctx: Context) -> None:
    requested = ctx.payload_of(events.DeploymentProtectionRuleRequested)
    run = _RUN.search(requested.deployment_callback_url or "")
    if not requested.environment or not requested.sha or run is None:
        # Nothing names the job: there is no run to answer, and GitHub times the job out on its own.
        log.warning("deployment_protection_rule without environment, sha or callback; left unanswered")
        return
    verdict = rules.deployment_verdict(await gather(ctx, requested.environment, requested.sha))
    api: DeploymentRuleAPI = ctx.api
    await api.review_deployment_protection_rule(
        int(run.group(1)), environment=requested.environment, approve=verdict.approve, comment=verdict.comment
    )
