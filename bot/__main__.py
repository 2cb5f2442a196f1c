"""Command line: release-train serve | setup | manifest | sandbox | demo | check-config | healthcheck."""

from __future__ import annotations

import argparse
import sys


def _serve(args: argparse.Namespace) -> int:
    from bot.logs import setup_logging
    from bot.server import serve
    from bot.settings import Settings, SettingsError, environment

    env = environment()
    try:
        settings = Settings.from_env(env)
    except SettingsError as exc:
        # No APP_ID at all: nothing is registered yet, and `setup` is the way to do it.
        hint = "" if env.get("APP_ID") else " (no GitHub App is configured here: `release-train setup` registers one)"
        print(f"release-train: {exc}{hint}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.log_format)
    serve(settings)
    return 0


def _manifest(args: argparse.Namespace) -> int:
    """Print the manifest that `setup` posts, for registering the app by other means."""
    from bot.manifest import ManifestError, manifest_for, manifest_json, read_manifest

    try:
        print(manifest_json(manifest_for(read_manifest(), args.url, args.setup_page)))
    except ManifestError as exc:
        print(f"release-train manifest: {exc}", file=sys.stderr)
        return 2
    return 0


def _setup(args: argparse.Namespace) -> int:
    from bot.setup.cli import run

    return run(args)


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
    setup = sub.add_parser("setup", help="register the GitHub App in the browser (GitHub's manifest flow); writes .env")
    setup.add_argument("--host", default="127.0.0.1", help="where the setup page listens (default 127.0.0.1)")
    setup.add_argument("--port", type=int, default=3000)
    setup.add_argument("--url", default=None, help="the public URL GitHub delivers webhooks to (the page asks for it)")
    setup.add_argument("--dir", default=".", help="where .env and the private key are written (default: here)")
    setup.set_defaults(fn=_setup)
    manifest = sub.add_parser("manifest", help="print the app manifest (app.yml as JSON, with this host's URLs)")
    manifest.add_argument("--url", required=True, help="the public URL GitHub delivers webhooks to")
    manifest.add_argument(
        "--setup-page",
        default="http://127.0.0.1:3000",
        help="where GitHub sends the person back (redirect_url, setup_url); default: `setup`'s own page",
    )
    manifest.set_defaults(fn=_manifest)
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
    sandbox.add_argument(
        "--seed",
        choices=["example"],
        default=None,
        help="make the example world (org acme, its teams, acme/shop with devel, an RC and a config) and run the bot",
    )
    sandbox.add_argument(
        "--config", default=None, help="with --seed: your .github/release-train.yml instead of the example's"
    )
    sandbox.set_defaults(fn=_sandbox)
    demo = sub.add_parser("demo", help="play a whole release in the sandbox and check the outcome")
    demo.add_argument("--quiet", action="store_true", help="only the outcomes checked")
    demo.add_argument(
        "--verbose", action="store_true", help="also the webhooks delivered and the bot's API calls after each step"
    )
    demo.add_argument(
        "--keep", action="store_true", help="leave the sandbox and the bot running, and print the page to open"
    )
    demo.set_defaults(fn=_demo)
    check = sub.add_parser("check-config", help="validate a .github/release-train.yml file")
    check.add_argument("path", nargs="?", default=".github/release-train.yml")
    check.add_argument(
        "--repo",
        default=None,
        metavar="OWNER/NAME",
        help="also look up the roles' teams and people on GitHub for this repository "
        "(GITHUB_TOKEN, or APP_ID with PRIVATE_KEY_PATH; GITHUB_API_URL for a server other than github.com)",
    )
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
