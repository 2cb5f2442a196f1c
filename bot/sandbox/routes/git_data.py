"""The Git Data API: blobs, trees, commits, annotated tags and refs, straight onto the bare repository."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from bot.sandbox import render
from bot.sandbox.common import (
    ApiError,
    git,
    no_content,
    not_found,
    read_json,
    repo_for,
    respond,
    sender_login,
    store,
    validation_failed,
)
from bot.sandbox.git import NULL_SHA, TreeEntry, is_sha, valid_ref_name
from bot.sandbox.protection import guard_ref
from bot.sandbox.routes.repos import move_ref, person, person_from_body, publish_ref_change
from bot.sandbox.workflows import guard_workflows

TREE_MODES = {"100644": "blob", "100755": "blob", "040000": "tree", "160000": "commit", "120000": "blob"}


def _base64_lines(raw: bytes) -> str:
    encoded = base64.b64encode(raw).decode()
    return "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + ("\n" if encoded else "")


# blobs -------------------------------------------------------------------------------------------


async def create_blob(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="write")
    body = await read_json(request)
    content, encoding = body.get("content"), body.get("encoding", "utf-8")
    if not isinstance(content, str):
        raise validation_failed("Blob", "content", "missing_field")
    if encoding == "base64":
        try:
            raw = base64.b64decode(content)
        except (binascii.Error, ValueError):
            raise validation_failed("Blob", "content", "invalid", "content is not valid Base64") from None
    elif encoding in ("utf-8", "utf8"):
        raw = content.encode()
    else:
        raise validation_failed("Blob", "encoding", "invalid", f"encoding {encoding} is not supported")
    sha = await git(request).write_blob(repo["full_name"], raw)
    return respond({"url": render.api(f"/repos/{repo['full_name']}/git/blobs/{sha}"), "sha": sha}, status=201)


async def get_blob(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="read")
    sha = request.match_info["file_sha"]
    raw = await git(request).read_blob(repo["full_name"], sha)
    if raw is None:
        raise not_found()
    return respond(
        {
            "sha": sha,
            "node_id": render.node("Blob", int(sha[:8], 16)),
            "size": len(raw),
            "url": render.api(f"/repos/{repo['full_name']}/git/blobs/{sha}"),
            "content": _base64_lines(raw),
            "encoding": "base64",
        }
    )


# trees -------------------------------------------------------------------------------------------


def tree_body(repo: dict[str, Any], sha: str, entries: list[TreeEntry]) -> dict[str, Any]:
    full = repo["full_name"]
    listed = []
    for e in entries:
        item: dict[str, Any] = {"path": e.path, "mode": e.mode, "type": e.type, "sha": e.sha}
        if e.type == "blob":
            item["size"] = e.size or 0
            item["url"] = render.api(f"/repos/{full}/git/blobs/{e.sha}")
        elif e.type == "tree":
            item["url"] = render.api(f"/repos/{full}/git/trees/{e.sha}")
        listed.append(item)
    return {"sha": sha, "url": render.api(f"/repos/{full}/git/trees/{sha}"), "tree": listed, "truncated": False}


async def create_tree(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="write")
    repos = git(request)
    full = repo["full_name"]
    body = await read_json(request)
    items = body.get("tree")
    if not isinstance(items, list):
        raise validation_failed("Tree", "tree", "missing_field")
    base_tree = body.get("base_tree")
    if base_tree is not None:
        kind = await repos.object_type(full, base_tree) if isinstance(base_tree, str) else None
        if kind not in ("tree", "commit"):
            raise validation_failed("Tree", "base_tree", "invalid", "base_tree is not a valid tree")
        if kind == "commit":
            base_tree = await repos.tree_of(full, base_tree)
    changes: dict[str, TreeEntry | None] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not item["path"].strip("/"):
            raise validation_failed("Tree", f"tree[{index}].path", "missing_field")
        path = item["path"].strip("/")
        if any(part in ("", ".", "..", ".git") for part in path.split("/")):
            raise validation_failed("Tree", f"tree[{index}].path", "invalid")
        mode = item.get("mode", "100644")
        if mode not in TREE_MODES:
            raise validation_failed("Tree", f"tree[{index}].mode", "invalid", f"tree.mode {mode} is not valid")
        kind = item.get("type", TREE_MODES[mode])
        if "content" in item and item["content"] is not None:
            if not isinstance(item["content"], str):
                raise validation_failed("Tree", f"tree[{index}].content", "invalid")
            changes[path] = TreeEntry(mode, "blob", await repos.write_blob(full, item["content"].encode()), path)
        elif "sha" in item and item["sha"] is None:
            if base_tree is None:
                raise validation_failed("Tree", f"tree[{index}].sha", "invalid", "deleting a path needs base_tree")
            changes[path] = None
        else:
            sha = item.get("sha")
            actual = await repos.object_type(full, sha) if isinstance(sha, str) else None
            if not isinstance(sha, str) or (kind != "commit" and actual != kind):
                raise validation_failed(
                    "Tree", f"tree[{index}].sha", "invalid", f"tree.sha {sha} is not a valid {kind}"
                )
            changes[path] = TreeEntry(mode, kind, sha, path)
    sha = await repos.write_tree(full, base_tree, changes)
    return respond(tree_body(repo, sha, await repos.ls_tree(full, sha)), status=201)


async def get_tree(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="read")
    repos = git(request)
    full = repo["full_name"]
    given = request.match_info["tree_sha"]
    sha = await repos.resolve(full, f"{given}^{{tree}}") if given and not given.startswith("-") else None
    if sha is None:
        raise not_found()
    recursive = request.query.get("recursive") not in (None, "", "0", "false")
    return respond(tree_body(repo, sha, await repos.ls_tree(full, sha, recursive=recursive)))


# commits -----------------------------------------------------------------------------------------


async def create_commit(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="write")
    st, repos = store(request), git(request)
    full = repo["full_name"]
    body = await read_json(request)
    message, tree, parents = body.get("message"), body.get("tree"), body.get("parents", [])
    if not isinstance(message, str):
        raise validation_failed("Commit", "message", "missing_field")
    if not isinstance(tree, str) or await repos.object_type(full, tree) != "tree":
        raise ApiError(422, "Tree SHA does not exist")
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise validation_failed("Commit", "parents", "invalid")
    for parent in parents:
        if await repos.object_type(full, parent) != "commit":
            raise ApiError(422, "Parent SHA does not exist or is not a commit object")
    caller = person(st, sender_login(request))
    author = person_from_body(st, body.get("author"), caller, "author")
    committer = person_from_body(st, body.get("committer"), author if body.get("author") else caller, "committer")
    sha = await repos.commit_tree(full, tree, parents, message, author=author, committer=committer)
    commit = await repos.read_commit(full, sha)
    return respond(render.git_commit(st, repo, commit), status=201)


async def get_git_commit(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="read")
    commit = await git(request).read_commit(repo["full_name"], request.match_info["commit_sha"])
    if commit is None:
        raise not_found()
    return respond(render.git_commit(store(request), repo, commit))


# annotated tags ----------------------------------------------------------------------------------


def tag_body(repo: dict[str, Any], sha: str, fields: dict[str, str]) -> dict[str, Any]:
    from bot.sandbox.git import _parse_person

    full = repo["full_name"]
    tagger = _parse_person(fields["tagger"])
    kind = fields["type"]
    return {
        "node_id": render.node("Tag", int(sha[:8], 16)),
        "tag": fields["tag"],
        "sha": sha,
        "url": render.api(f"/repos/{full}/git/tags/{sha}"),
        "message": fields["message"],
        "tagger": render.git_person(tagger),
        "object": {
            "sha": fields["object"],
            "type": kind,
            "url": render.api(f"/repos/{full}/git/{kind}s/{fields['object']}"),
        },
        "verification": render.verification(),
    }


async def create_tag(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="write")
    st, repos = store(request), git(request)
    full = repo["full_name"]
    body = await read_json(request)
    tag, message, target, kind = body.get("tag"), body.get("message"), body.get("object"), body.get("type", "commit")
    if not isinstance(tag, str) or not valid_ref_name(f"refs/tags/{tag}"):
        raise validation_failed("Tag", "tag", "invalid")
    if not isinstance(message, str):
        raise validation_failed("Tag", "message", "missing_field")
    if not isinstance(target, str) or await repos.object_type(full, target) != kind:
        raise validation_failed("Tag", "object", "invalid", "Object does not exist")
    tagger = person_from_body(st, body.get("tagger"), person(st, sender_login(request)), "tagger")
    sha = await repos.write_tag(full, tag=tag, object_sha=target, object_type=kind, tagger=tagger, message=message)
    fields = await repos.read_tag(full, sha)
    assert fields is not None
    return respond(tag_body(repo, sha, fields), status=201)


async def get_tag(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="read")
    sha = request.match_info["tag_sha"]
    fields = await git(request).read_tag(repo["full_name"], sha)
    if fields is None:
        raise not_found()
    return respond(tag_body(repo, sha, fields))


# refs --------------------------------------------------------------------------------------------


def ref_body(repo: dict[str, Any], ref: str, sha: str, kind: str) -> dict[str, Any]:
    full = repo["full_name"]
    return {
        "ref": ref,
        "node_id": render.node("Ref", abs(hash((full, ref))) % 10**9),
        "url": render.api(f"/repos/{full}/git/{ref}"),
        "object": {"sha": sha, "type": kind, "url": render.api(f"/repos/{full}/git/{kind}s/{sha}")},
    }


async def create_ref(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="write")
    repos = git(request)
    full = repo["full_name"]
    body = await read_json(request)
    ref, sha = body.get("ref"), body.get("sha")
    if not isinstance(ref, str) or ref.count("/") < 2 or not valid_ref_name(ref):
        raise ApiError(422, f"{ref} is not a valid ref name.")
    if not isinstance(sha, str) or not is_sha(sha):
        raise validation_failed("Reference", "sha", "invalid")
    kind = await repos.object_type(full, sha)
    if kind is None or (ref.startswith("refs/heads/") and kind != "commit"):
        raise ApiError(422, "Object does not exist")
    async with repos.lock(full):
        if await repos.ref(full, ref) is not None:
            raise ApiError(422, "Reference already exists")
        await guard_ref(request, repo, ref, None, sha)
        await guard_workflows(request, repo, None, sha)
        if not await repos.update_ref(full, ref, sha, NULL_SHA):
            raise ApiError(422, "Reference already exists")
        await publish_ref_change(request, repo, ref, None, sha)
    return respond(ref_body(repo, ref, sha, kind), status=201)


async def get_ref(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="read")
    ref = "refs/" + request.match_info["ref"]
    for name, sha, kind in await git(request).refs(repo["full_name"], ref):
        if name == ref:
            return respond(ref_body(repo, name, sha, kind))
    raise not_found()


async def matching_refs(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="read")
    prefix = "refs/" + request.match_info.get("ref", "")
    refs = await git(request).refs(repo["full_name"], prefix)
    return respond([ref_body(repo, name, sha, kind) for name, sha, kind in refs])


async def update_ref(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="write")
    repos = git(request)
    full = repo["full_name"]
    ref = "refs/" + request.match_info["ref"]
    body = await read_json(request)
    sha, force = body.get("sha"), bool(body.get("force", False))
    if not isinstance(sha, str) or not is_sha(sha):
        raise validation_failed("Reference", "sha", "invalid")
    kind = await repos.object_type(full, sha)
    if kind is None:
        raise ApiError(422, "Object does not exist")
    async with repos.lock(full):
        current = await repos.ref(full, ref)
        if current is None:
            raise ApiError(422, "Reference does not exist")
        if current != sha:
            fast_forward = kind == "commit" and await repos.is_ancestor(full, current, sha)
            if not fast_forward and not force:
                raise ApiError(422, "Update is not a fast forward")
            await move_ref(request, repo, ref, sha, current)
    return respond(ref_body(repo, ref, sha, kind))


async def delete_ref(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="write")
    repos = git(request)
    full = repo["full_name"]
    ref = "refs/" + request.match_info["ref"]
    async with repos.lock(full):
        current = await repos.ref(full, ref)
        if current is None:
            raise ApiError(422, "Reference does not exist")
        await guard_ref(request, repo, ref, current, None)
        if not await repos.delete_ref(full, ref, current):
            raise ApiError(409, "Reference cannot be updated")
        await publish_ref_change(request, repo, ref, current, None)
    return no_content()


def setup(app: web.Application) -> None:
    r = app.router
    base = "/repos/{owner}/{repo}/git"
    r.add_post(f"{base}/blobs", create_blob)
    r.add_get(f"{base}/blobs/{{file_sha}}", get_blob)
    r.add_post(f"{base}/trees", create_tree)
    r.add_get(f"{base}/trees/{{tree_sha}}", get_tree)
    r.add_post(f"{base}/commits", create_commit)
    r.add_get(f"{base}/commits/{{commit_sha}}", get_git_commit)
    r.add_post(f"{base}/tags", create_tag)
    r.add_get(f"{base}/tags/{{tag_sha}}", get_tag)
    r.add_post(f"{base}/refs", create_ref)
    r.add_get(f"{base}/ref/{{ref:.+}}", get_ref)
    r.add_get(f"{base}/matching-refs/{{ref:.*}}", matching_refs)
    r.add_patch(f"{base}/refs/{{ref:.+}}", update_ref)
    r.add_delete(f"{base}/refs/{{ref:.+}}", delete_ref)
