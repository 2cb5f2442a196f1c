"""The manifest flow's last step: POST /app-manifests/{code}/conversions turns GitHub's code into the new app's credentials."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import msgspec


class AppOwner(msgspec.Struct, frozen=True):
    login: str


class AppCredentials(msgspec.Struct, frozen=True, kw_only=True):
    """What the conversion answers that the bot keeps: the app, its key and its secrets."""

    id: int
    slug: str
    name: str
    html_url: str
    pem: str
    webhook_secret: str | None
    client_id: str
    client_secret: str
    owner: AppOwner | None = None

    def __repr__(self) -> str:  # the key and the secrets never reach a log
        return f"AppCredentials(id={self.id}, slug={self.slug!r})"


class ConversionError(Exception):
    """GitHub refused the code (404/422: unknown, used or older than an hour) or could not be reached."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Error(msgspec.Struct):
    message: str = ""


async def convert_manifest_code(session: aiohttp.ClientSession, api_url: str, code: str) -> AppCredentials:
    """Exchange the one-time code (no authentication, no body, as GitHub documents it) for the app's credentials."""
    url = f"{api_url.rstrip('/')}/app-manifests/{quote(code, safe='')}/conversions"
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    try:
        async with session.post(url, headers=headers, timeout=aiohttp.ClientTimeout(total=30)) as resp:
            status, body = resp.status, await resp.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ConversionError(0, f"{url} could not be reached: {exc.__class__.__name__}") from None
    if status != 201:
        try:
            message = msgspec.json.decode(body, type=_Error).message
        except msgspec.DecodeError:
            message = body[:200].decode(errors="replace")
        raise ConversionError(status, message or f"HTTP {status}")
    try:
        return msgspec.json.decode(body, type=AppCredentials)
    except msgspec.DecodeError as exc:
        raise ConversionError(status, f"GitHub's answer is not the app's credentials: {exc}") from None
