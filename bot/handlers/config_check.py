"""The release-train/config check on commits that change .github/release-train.yml."""

from __future__ import annotations

from gidgethub import routing

from bot.handlers.commands import CommandSet

router = routing.Router()
commands = CommandSet()
