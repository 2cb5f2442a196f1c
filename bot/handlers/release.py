"""The RC lifecycle: /cut-rc, the promotion gate, regression, sign-off, holds and /promote."""

from __future__ import annotations

from gidgethub import routing

from bot.handlers.commands import CommandSet

router = routing.Router()
commands = CommandSet()
