"""`release-train sandbox`: run the local GitHub until interrupted; the first stdout line says where."""

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
        # Only once a signal stops it cleanly: whoever reads this line may send one at once.
        sys.stdout.write(json.dumps(sandbox.info) + "\n")
        sys.stdout.flush()
        await stop.wait()
        await sandbox.stop()

    asyncio.run(main())
    return 0
