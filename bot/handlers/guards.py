"""Role-guarded labels: the verified and ready labels count only when the right role applied them."""

from __future__ import annotations

from gidgethub import routing

from bot.handlers.commands import CommandSet

router = routing.Router()
commands = CommandSet()
