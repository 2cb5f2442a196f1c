"""A local GitHub: the REST endpoints the bot and its users need, backed by real git, sending signed webhooks."""
