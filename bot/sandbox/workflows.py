"""GitHub's guard on workflow files: a GitHub App without the `workflows` permission changes nothing under
`.github/workflows/`.

GitHub refuses a git push of such a change from an app with "refusing to allow a GitHub App to create or
update workflow `<path>` without `workflows` permission", and its REST API answers the same change with
404 Not Found (the ref update, the contents API, tree creation). The sandbox models the REST side for the
installation's ref moves that bring in a commit no ref of the repository has yet: such a move may not make
the files under `.github/workflows/` differ from the commit the ref pointed at (a new ref: from the new
commit's first parent). Moving a ref to a commit another branch already holds (a fast-forward of a
production branch to the RC head, a branch made at an existing commit) is let through: how GitHub judges
that case is not documented, and it brings in nothing new. Deliberate difference: only ref moves are
checked (making a tree or commit object that mentions a workflow file is allowed, since no ref points at
it yet), which is where every change through the API takes effect.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox.common import ApiError, actor, git

WORKFLOWS_DIR = ".github/workflows/"


async def changed_workflows(request: web.Request, full: str, old: str | None, new: str) -> list[str]:
    """The workflow files a ref move from old to new changes (old None: a new ref)."""
    repos = git(request)
    contains = await repos.out(full, "for-each-ref", "--contains", new, "--count=1", "--format=%(refname)")
    if contains.strip():
        return []  # already on a ref: the move brings in nothing new
    if old is None:
        [commit] = await repos.read_commits(full, [new])
        old = commit.parents[0] if commit.parents else None
    files = await repos.diff(full, old, new, patches=False)
    paths = {f.filename for f in files} | {f.previous_filename for f in files if f.previous_filename}
    return sorted(p for p in paths if p.startswith(WORKFLOWS_DIR))


async def guard_workflows(request: web.Request, repo: dict[str, Any], old: str | None, new: str | None) -> None:
    """Refuse an installation's ref move that changes workflow files when its token lacks `workflows` (404)."""
    who = actor(request)
    if who.kind != "installation" or new is None or who.permissions.get("workflows") == "write":
        return
    if await changed_workflows(request, repo["full_name"], old, new):
        raise ApiError(404, "Not Found")
