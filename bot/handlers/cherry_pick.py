"""QA-verified fixes picked into their RC branches, through the API, exactly once."""

from __future__ import annotations

from gidgethub import routing

from bot.handlers.commands import CommandSet

router = routing.Router()
commands = CommandSet()
