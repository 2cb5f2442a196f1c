"""The app manifest subscribes to exactly the events the bot handles, with the least permissions."""

from pathlib import Path

import yaml

from bot.handlers import build_router, handled_events

MANIFEST = Path(__file__).resolve().parents[1] / "app.yml"


def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def test_every_handled_event_is_subscribed_and_nothing_more() -> None:
    handled = handled_events(build_router())
    subscribed = set(manifest()["default_events"])
    assert handled - subscribed == set(), "handlers for events the app does not subscribe to"
    assert subscribed - handled == set(), "subscriptions no handler uses"


def test_manifest_has_what_github_needs() -> None:
    app = manifest()
    for key in ("name", "url", "hook_attributes", "default_events", "default_permissions"):
        assert key in app
    assert app["hook_attributes"]["url"].endswith("/webhook")


def test_permissions_are_the_least_the_bot_needs() -> None:
    permissions = manifest()["default_permissions"]
    writes = {k for k, v in permissions.items() if v == "write"}
    assert writes <= {"contents", "pull_requests", "issues", "checks", "statuses", "deployments", "actions"}
    assert permissions.get("metadata") == "read"
    assert permissions.get("members") == "read"
    assert "administration" not in permissions
