"""The RC lifecycle, one module per step, composed here into the concern's router and commands."""

from __future__ import annotations

from gidgethub import routing

from bot.handlers.commands import CommandSet
from bot.handlers.release import cut, gate, promote, signals
from bot.handlers.release.gate import Evaluation, evaluate_gate, sweep
from bot.handlers.release.record import find_tracking_issue, read_state, tracking_context, version_of_tracking

# The gate reacts to events, and promote notes who made a release tag it did not; the rest are commands.
router = routing.Router(gate.router, promote.router)
# The gate posts its check and reads statuses and PRs; the commands cut the RC branch, tag, release,
# deploy, dispatch workflows and open the tracking issue and bugs.
PERMISSIONS = {
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "pull_requests": "read",
    "statuses": "read",
    "actions": "write",
    "deployments": "write",
}
# In this order in /help: cut, QA's and PdM's word, promote.
commands = CommandSet([*cut.commands.specs, *signals.commands.specs, *promote.commands.specs])

__all__ = [
    "PERMISSIONS",
    "Evaluation",
    "commands",
    "evaluate_gate",
    "find_tracking_issue",
    "read_state",
    "router",
    "sweep",
    "tracking_context",
    "version_of_tracking",
]
