"""Starting the sandbox on loopback from Python (tests, the demo) and from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.sandbox.app import DEFAULT_MANIFEST, SandboxConfig, create_sandbox_app, set_base_url


@dataclass
class RunningSandbox:
    app: web.Application
    runner: web.AppRunner
    config: SandboxConfig
    api_url: str

    @property
    def info(self) -> dict[str, Any]:
        return {
            "api_url": self.api_url,
            "app_id": self.config.app_id,
            "private_key_path": str(self.config.private_key_path),
            "webhook_url": self.config.webhook_url,
        }

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_sandbox(
    *,
    state_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    webhook_url: str | None = None,
    webhook_secret: str = "sandbox-secret",
    manifest: Path | None = None,
    faults: dict[str, float] | None = None,
    prepare: Callable[[web.Application], None] | None = None,
) -> RunningSandbox:
    """Start the sandbox; it is ready (and `sandbox.json` written) when this returns."""
    config = SandboxConfig(
        state_dir=Path(state_dir),
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        manifest_path=Path(manifest) if manifest else DEFAULT_MANIFEST,
    )
    app = create_sandbox_app(config)
    if faults:
        from bot.sandbox.routes.admin import apply_faults

        apply_faults(app, faults)
    if prepare is not None:  # e.g. a test that records every answer through on_response_prepare
        prepare(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    api_url = f"http://{host}:{bound_port}"
    set_base_url(config, api_url)
    running = RunningSandbox(app, runner, config, api_url)
    ready = Path(state_dir) / "sandbox.json"
    tmp = ready.with_suffix(".tmp")
    tmp.write_text(json.dumps(running.info))
    tmp.replace(ready)
    return running
