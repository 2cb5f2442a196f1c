"""Command line: release-train serve | sandbox | demo | check-config."""

from __future__ import annotations

import argparse
import sys


def _serve(args: argparse.Namespace) -> int:
    from bot.logs import setup_logging
    from bot.server import serve
    from bot.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"release-train: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.log_format)
    serve(settings)
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox.__main__ import run

    return run(args)


def _demo(args: argparse.Namespace) -> int:
    from bot.demo import run

    return run(args)


def _check_config(args: argparse.Namespace) -> int:
    from bot.config_cli import run

    return run(args)


def _healthcheck(args: argparse.Namespace) -> int:
    """Exit 0 when the local server answers /healthz (the container's HEALTHCHECK; no curl in slim images)."""
    import json
    import os
    import urllib.error
    import urllib.request

    port = args.port or int(os.environ.get("PORT", "3000"))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=args.timeout) as resp:
            ok = resp.status == 200 and json.loads(resp.read()).get("status") == "ok"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"release-train: unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="release-train", description="Runs a team's release train on GitHub.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the webhook server (settings come from the environment)")
    serve.set_defaults(fn=_serve)
    sandbox = sub.add_parser("sandbox", help="run a local GitHub for trying the bot out")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=0)
    sandbox.add_argument("--state-dir", default="var/sandbox")
    sandbox.add_argument("--webhook-url", default=None)
    sandbox.add_argument("--webhook-secret", default="sandbox-secret")
    sandbox.add_argument("--manifest", default=None, help="the app manifest (default: the project's app.yml)")
    sandbox.add_argument(
        "--faults",
        default=None,
        help="fault injection, e.g. 'api=0.1,after=0.5,seed=7,delay=0.2,duplicate=0.1,reorder=0.1'",
    )
    sandbox.set_defaults(fn=_sandbox)
    demo = sub.add_parser("demo", help="play a whole release in the sandbox and check the outcome")
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(fn=_demo)
    check = sub.add_parser("check-config", help="validate a .github/release-train.yml file")
    check.add_argument("path", nargs="?", default=".github/release-train.yml")
    check.set_defaults(fn=_check_config)
    health = sub.add_parser("healthcheck", help="exit 0 when the server on $PORT answers /healthz")
    health.add_argument("--port", type=int, default=0)
    health.add_argument("--timeout", type=float, default=3.0)
    health.set_defaults(fn=_healthcheck)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
