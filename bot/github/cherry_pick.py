"""Cherry-picking commits onto a branch through GitHub's REST API (sibling commit, merge, commit), with no clone."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gidgethub

log = logging.getLogger("release_train.cherry_pick")

SIBLING_MESSAGE = "release-train: cherry-pick base (temporary)"
_TRAILER = re.compile(r"^([A-Za-z0-9-]+: .+|\(cherry picked from commit [0-9a-f]+\))$")


@dataclass(frozen=True)
class SourceCommit:
    """A commit to pick, as GitHub lists it (`GET commits` / `GET git/commits`)."""

    sha: str
    parents: tuple[str, ...]
    message: str
    author: Mapping[str, str]  # {"name", "email", "date"}

    @classmethod
    def from_listing(cls, listed: Mapping[str, Any]) -> SourceCommit:
        commit = listed.get("commit", listed)
        author = commit.get("author") or {}
        return cls(
            sha=listed["sha"],
            parents=tuple(p["sha"] for p in listed.get("parents", [])),
            message=commit.get("message", ""),
            author={k: author[k] for k in ("name", "email", "date") if author.get(k)},
        )


@dataclass(frozen=True)
class PickOutcome:
    outcome: str  # "picked" | "empty" (already present) | "conflict" | "branch-exists"
    head_sha: str | None = None  # the branch's new head ("picked")
    tree_sha: str | None = None
    picked: tuple[tuple[str, str], ...] = ()  # (source sha, new sha), oldest first; empty picks skipped
    skipped: tuple[str, ...] = ()  # source commits that changed nothing on the target
    conflict_sha: str | None = None  # the source commit whose pick conflicted
    conflict_message: str = ""
    requests: int = 0


class BranchExists(Exception):
    """The pick branch already exists; the caller decides whether it may be reset."""


def cherry_picked_message(message: str, sha: str) -> str:
    """The message `git cherry-pick -x` writes: a blank line, then the note, unless the message ends in trailers."""
    body = message.rstrip("\n")
    lines = body.split("\n")
    last_paragraph: list[str] = []
    for line in reversed(lines):
        if not line.strip():
            break
        last_paragraph.insert(0, line)
    has_trailers = (
        len(last_paragraph) < len(lines)
        and bool(last_paragraph)
        and all(_TRAILER.match(line) for line in last_paragraph)
    )
    separator = "\n" if has_trailers else "\n\n"
    return f"{body}{separator}(cherry picked from commit {sha})"


class Picker:
    """Picks commits onto a target through one installation client; knows nothing of PRs or labels."""

    def __init__(self, gh: Any, owner: str, repo: str, *, committer: Mapping[str, str] | None = None) -> None:
        self.gh = gh
        self.repo_vars = {"owner": owner, "repo": repo}
        self.committer = dict(committer) if committer else None
        self.requests = 0

    async def _post(self, url: str, url_vars: Mapping[str, Any], body: dict[str, Any]) -> Any:
        self.requests += 1
        return await self.gh.post(url, {**self.repo_vars, **url_vars}, data=body)

    async def _commit(
        self, message: str, tree: str, parents: Sequence[str], author: Mapping[str, str] | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"message": message, "tree": tree, "parents": list(parents)}
        if author:
            body["author"] = dict(author)
        if self.committer:
            body["committer"] = dict(self.committer)
        commit: dict[str, Any] = await self._post("/repos/{owner}/{repo}/git/commits", {}, body)
        return commit

    async def _move(self, branch: str, sha: str) -> None:
        self.requests += 1
        await self.gh.patch(
            "/repos/{owner}/{repo}/git/refs/{ref}",
            {**self.repo_vars, "ref": f"heads/{branch}"},
            data={"sha": sha, "force": True},
        )

    async def delete_branch(self, branch: str) -> None:
        self.requests += 1
        try:
            await self.gh.delete("/repos/{owner}/{repo}/git/refs/{ref}", {**self.repo_vars, "ref": f"heads/{branch}"})
        except gidgethub.BadRequest as exc:
            if int(exc.status_code) not in (404, 422):  # already gone
                raise

    async def pick(
        self,
        commits: Sequence[SourceCommit],
        *,
        onto_sha: str,
        onto_tree: str,
        branch: str,
        mainline: bool = False,
        reuse_branch: bool = False,
    ) -> PickOutcome:
        """Pick commits (oldest first) onto onto_sha, leaving the result on `branch`.

        The branch is created with `POST git/refs`, which fails when it exists (BranchExists), unless
        reuse_branch says the caller checked it holds only an earlier attempt of the bot's. Each pick:
        a sibling commit (the current tree, the picked commit's first parent), `POST /merges` of the
        picked commit into it (409: conflict), then the merged tree committed onto the current head.
        When a commit's parent is the commit picked just before (a rebased series), the last merge
        already is its sibling, so only the merge and the commit are needed. On a conflict, when nothing
        changed, or when GitHub refuses the merge step, the branch this call made is deleted again.
        """
        head, tree = onto_sha, onto_tree
        picked: list[tuple[str, str]] = []
        skipped: list[str] = []
        branch_at: str | None = None  # where the branch points now, as far as the bot moved it
        created = False  # this call made the branch
        previous: str | None = None  # the source commit merged last
        for source in commits:
            if not source.parents:
                raise ValueError(f"cannot pick root commit {source.sha}")
            if branch_at is not None and source.parents[0] == previous:
                # The branch sits on the last merge, whose tree is the current result and whose
                # second parent is this commit's parent: merging now is exactly the sibling merge,
                # without a new sibling or a ref move.
                base_at = branch_at
            else:
                sibling = await self._commit(SIBLING_MESSAGE, tree, [source.parents[0]], None)
                if branch_at is None and not reuse_branch:
                    try:
                        await self._post(
                            "/repos/{owner}/{repo}/git/refs", {}, {"ref": f"refs/heads/{branch}", "sha": sibling["sha"]}
                        )
                    except gidgethub.BadRequest as exc:
                        if int(exc.status_code) == 422:
                            raise BranchExists(branch) from exc
                        raise
                    created = True
                else:
                    await self._move(branch, sibling["sha"])
                base_at = sibling["sha"]
            try:
                merged = await self._post(
                    "/repos/{owner}/{repo}/merges",
                    {},
                    {"base": branch, "head": source.sha, "commit_message": f"release-train: pick {source.sha}"},
                )
            except gidgethub.HTTPException as exc:
                if int(exc.status_code) == 409:
                    await self.delete_branch(branch)
                    return PickOutcome(
                        "conflict",
                        picked=tuple(picked),
                        skipped=tuple(skipped),
                        conflict_sha=source.sha,
                        conflict_message=str(exc),
                        requests=self.requests,
                    )
                if created and isinstance(exc, gidgethub.BadRequest):
                    await self.delete_branch(branch)  # a refusal (not an outage) leaves no branch behind
                raise
            if not merged:  # 204: the commit is already in the branch's history
                raise RuntimeError(f"{source.sha} is already merged into {branch}; cannot pick it")
            if merged["parents"][0]["sha"] != base_at:
                # Someone pushed to the branch while the bot was using it: leave it to them.
                raise BranchExists(branch)
            branch_at, previous = merged["sha"], source.sha
            merged_tree = merged["commit"]["tree"]["sha"]
            if merged_tree == tree:
                skipped.append(source.sha)
                continue
            result = await self._commit(
                cherry_picked_message(source.message, source.sha), merged_tree, [head], source.author
            )
            head, tree = result["sha"], merged_tree
            picked.append((source.sha, head))
        if not picked:
            await self.delete_branch(branch)
            return PickOutcome("empty", skipped=tuple(skipped), requests=self.requests)
        await self._move(branch, head)
        return PickOutcome(
            "picked", head_sha=head, tree_sha=tree, picked=tuple(picked), skipped=tuple(skipped), requests=self.requests
        )
