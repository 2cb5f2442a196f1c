"""Git data: refs, annotated tags, and the picker that cherry-picks through git objects and merges."""

from __future__ import annotations

from collections.abc import Mapping

import cachetools

from bot.github.cherry_pick import Picker
from bot.github.repo.base import Record, RepoBase, path_segments, read


class GitObject(Record, frozen=True, kw_only=True):
    sha: str
    type: str = "commit"  # commit, tag, tree or blob


class GitCommit(Record, frozen=True, kw_only=True):
    """A commit object as the git data API shows it (no files, no GitHub accounts)."""

    sha: str
    parents: tuple[GitObject, ...] = ()
    tree: GitObject | None = None
    message: str = ""

    @property
    def parent_shas(self) -> tuple[str, ...]:
        return tuple(parent.sha for parent in self.parents)


class GitRef(Record, frozen=True, kw_only=True):
    ref: str  # "refs/heads/devel", "refs/tags/v1.5.0"
    object: GitObject

    @property
    def short_name(self) -> str:
        """The name without refs/heads/ or refs/tags/."""
        for prefix in ("refs/heads/", "refs/tags/"):
            if self.ref.startswith(prefix):
                return self.ref[len(prefix) :]
        return self.ref


# A tag object never changes, so its peeled commit can be remembered for good.
_PEELED: cachetools.LRUCache[tuple[str, str], str] = cachetools.LRUCache(20000)


class Git(RepoBase):
    async def matching_refs(self, prefix: str) -> tuple[GitRef, ...]:
        """The refs whose name starts with prefix ("tags/", "heads/rc/")."""
        answer = await self.gh.getitem(
            "/repos/{owner}/{repo}/git/matching-refs/{+ref}", self._vars(ref=path_segments(prefix))
        )
        return read(tuple[GitRef, ...], answer)

    async def peeled(self, ref: GitRef) -> str:
        """The commit a tag ref names, through its annotated tag object when it has one."""
        if ref.object.type != "tag":
            return ref.object.sha
        key = (self.full_name, ref.object.sha)
        if key not in _PEELED:
            tag = await self.gh.getitem("/repos/{owner}/{repo}/git/tags/{tag_sha}", self._vars(tag_sha=ref.object.sha))
            _PEELED[key] = tag["object"]["sha"]
        return _PEELED[key]

    async def git_commit(self, sha: str) -> GitCommit:
        """A commit object: its parents and tree."""
        return await self._get("/repos/{owner}/{repo}/git/commits/{commit_sha}", GitCommit, commit_sha=sha)

    async def create_ref(self, ref: str, sha: str) -> GitRef:
        """A new ref ("refs/heads/rc/1.5"); GitHub answers 422 when it exists."""
        answer = await self.gh.post("/repos/{owner}/{repo}/git/refs", self._vars(), data={"ref": ref, "sha": sha})
        return read(GitRef, answer)

    async def update_ref(self, ref: str, sha: str, *, force: bool = False) -> GitRef:
        """Move a ref ("heads/production"); without force only forward (GitHub answers 422 otherwise)."""
        answer = await self.gh.patch(
            "/repos/{owner}/{repo}/git/refs/{ref}", self._vars(ref=ref), data={"sha": sha, "force": force}
        )
        return read(GitRef, answer)

    async def create_tag_object(self, tag: str, message: str, sha: str) -> str:
        """An annotated tag object for a commit (no ref yet); its sha."""
        answer = await self.gh.post(
            "/repos/{owner}/{repo}/git/tags",
            self._vars(),
            data={"tag": tag, "message": message, "object": sha, "type": "commit"},
        )
        return str(answer["sha"])

    def picker(self, committer: Mapping[str, str] | None = None) -> Picker:
        """Cherry-picks onto this repository's branches through the API."""
        return Picker(self.gh, self.owner, self.repo, committer=committer)
