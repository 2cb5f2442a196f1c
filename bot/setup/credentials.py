"""Where setup keeps what the manifest flow hands back: the private key (mode 0600) and .env, never overwriting either."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from bot.github.manifests import AppCredentials

DEFAULT_API_URL = "https://api.github.com"
# The variables setup writes; a .env already holding one of them belongs to another app.
WRITTEN = ("APP_ID", "WEBHOOK_SECRET", "PRIVATE_KEY_PATH", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET")
_PLAIN = re.compile(r"[A-Za-z0-9_./:@+=-]*")


class CredentialsError(Exception):
    """The credentials cannot be written where asked; the message says what is in the way."""


@dataclass(frozen=True)
class Written:
    env_file: Path
    key_file: Path
    appended: bool  # .env existed (without an app) and kept its lines


def app_in(env_file: Path) -> list[str]:
    """The variables of an app that `env_file` already sets (empty when it has none or does not exist)."""
    if not env_file.is_file():
        return []
    values = dotenv_values(env_file, interpolate=False)
    return [name for name in WRITTEN if values.get(name)]


def _quoted(value: str) -> str:
    if _PLAIN.fullmatch(value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _create(path: Path, data: bytes) -> None:
    """Write a new file readable by its owner alone; an existing file is never replaced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def write_credentials(directory: Path, app: AppCredentials, api_url: str) -> Written:
    """The key to `<slug>.<id>.private-key.pem` and the settings to `.env` (created, or appended to when it names no app)."""
    directory = directory.resolve()
    env_file = directory / ".env"
    taken = app_in(env_file)
    if taken:
        raise CredentialsError(f"{env_file} already sets {', '.join(taken)}: it belongs to another app")
    key_file = directory / f"{app.slug}.{app.id}.private-key.pem"
    try:
        _create(key_file, app.pem.encode())
    except FileExistsError:
        raise CredentialsError(f"{key_file} already exists") from None
    lines = [
        f"# The GitHub App {app.name!r} ({app.html_url}), registered by `release-train setup`.",
        f"APP_ID={app.id}",
        f"WEBHOOK_SECRET={_quoted(app.webhook_secret or '')}",
        f"PRIVATE_KEY_PATH={_quoted(str(key_file))}",
        f"GITHUB_CLIENT_ID={_quoted(app.client_id)}",
        f"GITHUB_CLIENT_SECRET={_quoted(app.client_secret)}",
    ]
    if api_url.rstrip("/") != DEFAULT_API_URL:
        lines.append(f"GITHUB_API_URL={_quoted(api_url.rstrip('/'))}")
    block = ("\n".join(lines) + "\n").encode()
    appended = env_file.exists()
    if appended:
        with env_file.open("ab") as out:
            existing = env_file.read_bytes()
            out.write((b"\n" if existing and not existing.endswith(b"\n") else b"") + block)
        env_file.chmod(0o600)
    else:
        _create(env_file, block)
    return Written(env_file, key_file, appended)
