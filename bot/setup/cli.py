"""`release-train setup`: serve the setup page on this machine until interrupted; the first line says where to open it."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from aiohttp import web

from bot.logs import setup_logging
from bot.manifest import ManifestError, public_url, read_manifest, web_url
from bot.settings import api_url_from_env, environment
from bot.setup.app import SetupConfig, create_setup_app
from bot.setup.credentials import app_in


def run(args: argparse.Namespace) -> int:
    directory = Path(args.dir).resolve()
    if not directory.is_dir():
        print(f"release-train setup: --dir {args.dir}: no such directory", file=sys.stderr)
        return 2
    taken = app_in(directory / ".env")
    if taken:
        print(
            f"release-train setup: {directory / '.env'} already sets {', '.join(taken)}: an app is configured here. "
            "Run setup in another directory (--dir), or move that .env away first; nothing was changed.",
            file=sys.stderr,
        )
        return 2
    try:
        prefilled = public_url(args.url) if args.url else ""
    except ManifestError as exc:
        print(f"release-train setup: --url: {exc}", file=sys.stderr)
        return 2
    api_url = api_url_from_env(environment(directory / ".env"))
    config = SetupConfig(
        api_url=api_url, directory=directory, manifest=read_manifest(), public_url=prefilled, listen_host=args.host
    )
    setup_logging("INFO", "pretty")

    async def main() -> int:
        runner = web.AppRunner(create_setup_app(config), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            print(f"release-train setup: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
            return 2
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        port = runner.addresses[0][1]
        print(
            f"Open http://{args.host}:{port}/ to register Release Train as a GitHub App on {web_url(api_url)} "
            f"(.env and the key go to {directory}); Ctrl-C stops this page.",
            flush=True,
        )
        await stop.wait()
        await runner.cleanup()
        return 0

    return asyncio.run(main())
