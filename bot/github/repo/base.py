"""What every area of the repository API shares: the client, the repository, the records and the 404 idiom."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Collection
from typing import Any, TypeVar
from urllib.parse import quote

import gidgethub
import msgspec
from gidgethub.abc import GitHubAPI

T = TypeVar("T")


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """A small frozen record of a GitHub answer; fields GitHub does not send take their defaults."""


class User(Record, frozen=True, kw_only=True):
    login: str = ""
    id: int = 0
    type: str = "User"  # "User", "Bot" or "Organization"


class Label(Record, frozen=True, kw_only=True):
    name: str


def read(kind: type[T], answer: Any) -> T:
    """A record from a decoded GitHub answer (unknown fields are left out; a wrong type raises)."""
    return msgspec.convert(answer, kind)


def path_segments(path: str) -> str:
    """A path for a reserved expansion ({+path}): each segment percent-encoded, the slashes kept."""
    return "/".join(quote(segment, safe="") for segment in path.split("/"))


class RepoBase:
    """One repository, seen through one installation client; every area of RepoAPI builds on it."""

    def __init__(self, gh: GitHubAPI, owner: str, repo: str, *, app_id: int, bot_login: str) -> None:
        self.gh = gh
        self.owner = owner
        self.repo = repo
        self.app_id = app_id
        self.bot_login = bot_login

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    def _vars(self, **more: Any) -> dict[str, Any]:
        """url_vars for the templates below: the repository, and the rest that is not None."""
        return {"owner": self.owner, "repo": self.repo, **{k: v for k, v in more.items() if v is not None}}

    def is_bot(self, login: str | None) -> bool:
        return bool(login) and login == self.bot_login

    async def _get(self, url: str, kind: type[T], **url_vars: Any) -> T:
        return read(kind, await self.gh.getitem(url, self._vars(**url_vars)))

    async def _iter(
        self, url: str, kind: type[T], *, iterable_key: str | None = None, **url_vars: Any
    ) -> AsyncIterator[T]:
        """Every item of a paginated listing, page after page (following GitHub's `link` header)."""
        if iterable_key is None:
            items = self.gh.getiter(url, self._vars(**url_vars))
        else:
            items = self.gh.getiter(url, self._vars(**url_vars), iterable_key=iterable_key)
        async for item in items:
            yield read(kind, item)


async def or_none(call: Awaitable[T], missing: Collection[int] = (404,)) -> T | None:
    """The answer, or None when GitHub answers one of `missing` (404: the thing does not exist)."""
    try:
        return await call
    except gidgethub.BadRequest as exc:
        if isinstance(exc, gidgethub.RateLimitExceeded) or int(exc.status_code) not in missing:
            raise
        return None
