"""`release-train check-config [PATH] [--repo OWNER/NAME]`: validate a configuration file, errors with their lines.

With `--repo`, the names in the roles are also looked up on GitHub, as the `release-train/config` check
looks them up: each must be a team or person that exists and has access to that repository.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

import aiohttp
import gidgethub

from bot.config import CONFIG_PATH, ConfigError, RepoConfig, parse_config
from bot.config.summary import config_sentences, config_warnings
from bot.github.auth import REQUESTER, GitHubApp, TokenScope
from bot.github.client import GitHubClient
from bot.github.installations import AppAPI
from bot.github.repo import RepoAPI
from bot.roles import member_facts
from bot.rules.role_members import RoleFindings, role_entries, role_findings
from bot.settings import api_url_from_env, environment

EXIT_OK, EXIT_INVALID, EXIT_MISSING = 0, 1, 2
# What looking up the roles' names needs of an installation token.
ONLINE_PERMISSIONS = {"members": "read", "metadata": "read"}
CREDENTIALS = "GITHUB_TOKEN, or APP_ID with PRIVATE_KEY_PATH (or PRIVATE_KEY)"


class OnlineCheckError(Exception):
    """The online check could not be made (no credentials, no such repository, GitHub unreachable)."""


def summary(config: RepoConfig) -> str:
    """What the file means, in sentences, so a typo that still parses is visible."""
    lines = [f"  {sentence}" for sentence in config_sentences(config, markdown=False)]
    lines += [f"  warning: {warning}" for warning in config_warnings(config, markdown=False)]
    return "\n".join(lines)


def run(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Findings go to stdout, as linters print them; a file or repository that cannot be read is reported on stderr."""
    out = out or sys.stdout
    err = err or sys.stderr
    path = Path(getattr(args, "path", None) or CONFIG_PATH)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        print(f"{path}: no such file", file=err)
        return EXIT_MISSING
    except IsADirectoryError:
        print(f"{path}: is a directory, not a configuration file", file=err)
        return EXIT_MISSING
    except OSError as exc:
        print(f"{path}: cannot be read: {exc.strerror}", file=err)
        return EXIT_MISSING
    result = parse_config(raw)
    if not result.ok or result.config is None:
        return _report(path, result.errors, out)
    repo = getattr(args, "repo", None)
    if repo:
        try:
            findings = asyncio.run(
                online_findings(repo, result.config, result.lines, environment() if env is None else env)
            )
        except OnlineCheckError as exc:
            print(f"release-train check-config: {exc}", file=err)
            return EXIT_MISSING
        if findings.errors:
            return _report(path, findings.errors, out)
        for warning in findings.warnings:
            print(f"{path}: warning: {warning}", file=out)
    print(f"{path}: ok" + (f" (its roles checked on {repo})" if repo else ""), file=out)
    print(summary(result.config), file=out)
    if not repo and any(role_entries(result.config.roles)):
        print("  note: the names in roles were not looked up on GitHub; --repo OWNER/NAME does that", file=out)
    return EXIT_OK


def _report(path: Path, errors: tuple[ConfigError, ...], out: TextIO) -> int:
    for error in errors:
        print(f"{path}: {error}", file=out)
    count = len(errors)
    print(f"{path}: {count} error{'s' if count != 1 else ''}", file=out)
    return EXIT_INVALID


def _owner_and_name(repo: str) -> tuple[str, str]:
    owner, _, name = repo.partition("/")
    if not owner or not name or "/" in name:
        raise OnlineCheckError(f"--repo takes owner/name, got {repo!r}")
    return owner, name


async def online_findings(
    repo: str, config: RepoConfig, lines: Mapping[str, int], env: Mapping[str, str]
) -> RoleFindings:
    """What GitHub says of the roles' names, for the repository, with the credentials the environment holds."""
    owner, name = _owner_and_name(repo)
    base_url = api_url_from_env(env)
    async with aiohttp.ClientSession() as session:
        try:
            gh = await _client(session, env, base_url, owner, name)
            api = RepoAPI(gh, owner, name, app_id=0, bot_login="")
            if await api.repository() is None:
                raise OnlineCheckError(f"{repo}: no such repository, or these credentials cannot see it")
            facts = await member_facts(api, config.roles)
        except gidgethub.HTTPException as exc:
            raise OnlineCheckError(f"GitHub answered {int(exc.status_code)} ({exc}) at {base_url}") from None
        except aiohttp.ClientError as exc:
            raise OnlineCheckError(f"cannot reach GitHub at {base_url}: {exc}") from None
    return role_findings(config.roles, facts, lines, repository=f"{owner}/{name}")


async def _client(
    session: aiohttp.ClientSession, env: Mapping[str, str], base_url: str, owner: str, name: str
) -> GitHubClient:
    """A client as the token's user (GITHUB_TOKEN), or as the app's installation on the repository."""
    token = env.get("GITHUB_TOKEN", "")
    if token:
        return GitHubClient(session, REQUESTER, oauth_token=token, base_url=base_url, max_retries=1)
    app_id, key = env.get("APP_ID", ""), env.get("PRIVATE_KEY", "")
    if not key and env.get("PRIVATE_KEY_PATH"):
        try:
            key = Path(env["PRIVATE_KEY_PATH"]).read_text()
        except OSError as exc:
            raise OnlineCheckError(
                f"PRIVATE_KEY_PATH {env['PRIVATE_KEY_PATH']!r} cannot be read: {exc.strerror}"
            ) from None
    key = key.replace("\\n", "\n")
    if not app_id or not key:
        raise OnlineCheckError(f"--repo needs credentials: set {CREDENTIALS}")
    if not app_id.isdigit() or "PRIVATE KEY" not in key:
        raise OnlineCheckError("APP_ID must be the app's number and PRIVATE_KEY a PEM private key")
    github = GitHubApp(session, app_id=int(app_id), private_key=key, base_url=base_url)
    try:
        installation = await AppAPI(github).repository_installation(owner, name)
    except ValueError as exc:  # the key does not sign (PyJWT cannot load it)
        raise OnlineCheckError(f"the private key cannot sign the app's token: {exc}") from None
    if installation is None:
        raise OnlineCheckError(f"the app {app_id} is not installed on {owner}/{name}")
    return await github.installation_client(installation.id, TokenScope.of(ONLINE_PERMISSIONS))
