"""The release-train/merge-rules check on PRs into devel, FR and RC branches."""

from __future__ import annotations

from gidgethub import routing

from bot.handlers.commands import CommandSet

router = routing.Router()
commands = CommandSet()
