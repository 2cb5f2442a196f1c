"""The app manifest: exactly the events the bot handles, the least permissions, one file, and the manifest flow's URLs."""

from pathlib import Path

import pytest

from bot.handlers import build_router, handled_events
from bot.manifest import (
    MANIFEST_FILE,
    ManifestError,
    hook_url,
    install_url,
    manifest_for,
    new_app_url,
    organization,
    public_url,
    read_manifest,
    web_url,
)

ROOT = Path(__file__).resolve().parents[1]


def manifest() -> dict:
    return read_manifest()


def test_one_manifest_the_package_ships_and_probot_users_find_at_the_root() -> None:
    shipped = Path(str(MANIFEST_FILE))
    assert shipped == ROOT / "bot" / "app.yml"
    assert (ROOT / "app.yml").is_symlink() and (ROOT / "app.yml").resolve() == shipped


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


@pytest.mark.parametrize(
    ("api", "web"),
    [
        ("https://api.github.com", "https://github.com"),
        ("https://api.github.com/", "https://github.com"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com"),
        ("https://ghe.example.com/api/v3/", "https://ghe.example.com"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),  # the sandbox serves its own web pages
    ],
)
def test_the_web_host_follows_the_api_root(api: str, web: str) -> None:
    assert web_url(api) == web


@pytest.mark.parametrize(
    ("given", "hook"),
    [
        ("https://rt.trycloudflare.com", "https://rt.trycloudflare.com/webhook"),
        ("https://rt.trycloudflare.com/", "https://rt.trycloudflare.com/webhook"),
        (" https://abc.ngrok-free.app ", "https://abc.ngrok-free.app/webhook"),
        ("https://smee.io/AbC123", "https://smee.io/AbC123"),
        ("https://host/bots/webhook", "https://host/bots/webhook"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000/webhook"),
    ],
)
def test_the_hook_url_adds_webhook_only_to_a_bare_host(given: str, hook: str) -> None:
    assert hook_url(given) == hook


@pytest.mark.parametrize(
    "given", ["", "rt.example.com", "ftp://rt.example.com", "https://", "https://h/?a=1", "https://h/#x"]
)
def test_a_public_url_that_github_cannot_post_to_is_refused_with_a_reason(given: str) -> None:
    with pytest.raises(ManifestError, match="URL"):
        public_url(given)


@pytest.mark.parametrize(("given", "login"), [("", None), ("  ", None), ("acme", "acme"), (" Acme-Labs ", "Acme-Labs")])
def test_an_organisation_is_optional(given: str, login: str | None) -> None:
    assert organization(given) == login


@pytest.mark.parametrize("given", ["acme/qa", "-acme", "acme-", "ac me", "a" * 40, "acme?x=1"])
def test_an_organisation_login_github_would_not_have_is_refused(given: str) -> None:
    with pytest.raises(ManifestError):
        organization(given)


def test_the_form_posts_to_the_personal_or_the_organisations_new_app_page_with_the_state() -> None:
    assert new_app_url("https://github.com", "s t") == "https://github.com/settings/apps/new?state=s+t"
    assert (
        new_app_url("https://ghe.example.com", "abc", "acme")
        == "https://ghe.example.com/organizations/acme/settings/apps/new?state=abc"
    )
    assert (
        install_url("https://github.com/apps/release-train/")
        == "https://github.com/apps/release-train/installations/new"
    )


def test_the_posted_manifest_is_app_yml_with_this_installations_urls() -> None:
    posted = manifest_for(manifest(), "https://rt.example.com", "http://127.0.0.1:3000/")
    assert posted["hook_attributes"] == {"url": "https://rt.example.com/webhook", "active": True}
    assert posted["redirect_url"] == "http://127.0.0.1:3000/callback"
    assert posted["setup_url"] == "http://127.0.0.1:3000/installed"
    assert posted["callback_urls"] == ["https://rt.example.com/login/callback"]
    unchanged = {
        k: v for k, v in posted.items() if k not in ("hook_attributes", "redirect_url", "setup_url", "callback_urls")
    }
    assert unchanged == {k: v for k, v in manifest().items() if k != "hook_attributes"}
    assert manifest()["hook_attributes"]["url"] == "https://example.com/webhook"  # the file itself is untouched
