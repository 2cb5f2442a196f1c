"""Repository contents: the repository itself, and one file at a ref, as the contents API gives it."""

from __future__ import annotations

from bot.github.repo.base import Record, RepoBase, or_none, path_segments, read


class ContentFile(Record, frozen=True, kw_only=True):
    path: str = ""
    type: str = "file"  # file, dir, symlink or submodule
    sha: str | None = None
    size: int = 0
    encoding: str | None = None  # "base64", or "none" for a file over 1 MB
    content: str | None = None


class Repository(Record, frozen=True, kw_only=True):
    full_name: str = ""
    default_branch: str = ""
    private: bool = False


class Contents(RepoBase):
    async def repository(self) -> Repository | None:
        """The repository, or None when this token cannot see it (GitHub answers 404 for both)."""
        answer = await or_none(self.gh.getitem("/repos/{owner}/{repo}", self._vars()))
        return None if answer is None else read(Repository, answer)

    async def file(self, path: str, *, ref: str | None = None) -> ContentFile | None:
        """The file at ref (the default branch when None), or None when there is nothing at path.

        Without ref the URL has no query, so the client's ETag cache makes a re-read conditional.
        """
        answer = await or_none(
            self.gh.getitem(
                "/repos/{owner}/{repo}/contents/{+path}{?ref}", self._vars(path=path_segments(path), ref=ref)
            )
        )
        if answer is None:
            return None
        if isinstance(answer, list):  # a directory lists its entries
            return ContentFile(path=path, type="dir")
        return read(ContentFile, answer)
