"""`release-train sandbox`: run the local GitHub until interrupted; the first stdout line says where.

With `--seed example` it also makes the example world (bot/sandbox/example.py), with the person's own
config if `--config` names one, and runs the bot against it in the same process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from bot.sandbox.routes.admin import parse_fault_spec
    from bot.sandbox.runner import start_sandbox

    try:
        faults = parse_fault_spec(args.faults) if getattr(args, "faults", None) else None
    except ValueError as exc:
        print(f"release-train sandbox: --faults: {exc}", file=sys.stderr)
        return 2
    manifest = Path(args.manifest) if args.manifest else None
    if manifest is not None and not manifest.is_file():
        print(f"release-train sandbox: --manifest: no such file: {manifest}", file=sys.stderr)
        return 2
    seed_name = getattr(args, "seed", None)
    config_text = None
    if getattr(args, "config", None):
        if not seed_name:
            print("release-train sandbox: --config goes with --seed example", file=sys.stderr)
            return 2
        config_text = read_config(Path(args.config))
        if config_text is None:
            return 2

    async def main() -> None:
        sandbox = await start_sandbox(
            state_dir=Path(args.state_dir),
            host=args.host,
            port=args.port,
            webhook_url=args.webhook_url,
            webhook_secret=args.webhook_secret,
            manifest=manifest,
            faults=faults,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if seed_name:
            await seeded(sandbox, args, config_text, stop)
        else:
            # Only once a signal stops it cleanly: whoever reads this line may send one at once.
            sys.stdout.write(json.dumps(sandbox.info) + "\n")
            sys.stdout.flush()
            await stop.wait()
        await sandbox.stop()

    asyncio.run(main())
    return 0


def read_config(path: Path) -> str | None:
    """The person's config file, checked as `check-config` checks it; None (reported) when it cannot be used."""
    from bot.config import parse_config

    try:
        text = path.read_text()
    except OSError as exc:
        print(f"release-train sandbox: --config: {path}: {exc.strerror or exc}", file=sys.stderr)
        return None
    result = parse_config(text)
    if not result.ok:
        for error in result.errors:
            print(f"release-train sandbox: --config: {path}: {error}", file=sys.stderr)
        return None
    return text


async def seeded(sandbox: object, args: argparse.Namespace, config_text: str | None, stop: asyncio.Event) -> None:
    """Seed the example world with the bot running in this process, print where everything is, serve until stopped."""
    import aiohttp

    from bot.sandbox import example
    from bot.sandbox.harness import World
    from bot.sandbox.runner import RunningSandbox

    assert isinstance(sandbox, RunningSandbox)
    async with aiohttp.ClientSession() as session:
        world = World(sandbox, session)
        await world.start_bot(world.bot_settings(webhook_secrets=(args.webhook_secret,)))
        try:
            made = await example.seed_example(world, config_text)
            sys.stdout.write(json.dumps({**sandbox.info, "webhook_url": world.bot_url}) + "\n")
            pages = f"{sandbox.api_url}/_html/{made.full_name}"
            config = f"your {args.config}" if config_text is not None else "the example's"
            people = ", ".join(
                f"{login} ({what}{', @acme/' + team if team else ''})" for login, (team, what) in example.PEOPLE.items()
            )
            lines = [
                f"{'Found' if made.already else 'Seeded'} {made.full_name}: devel (protected), production, "
                f"{made.rc_branch} (tracking issue #{made.tracking_issue}), {made.fr_branch}, "
                f"and {config} .github/release-train.yml.",
                f"People: alice (owns @acme), {people}. Act as one with `Authorization: token <login>`.",
                f"The bot is running at {world.bot_url} and receives the sandbox's webhooks.",
                f"Open {pages}",
            ]
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()
            await stop.wait()
        finally:
            await world.stop_bot()
