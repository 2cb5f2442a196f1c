"""GitHub's GraphQL endpoint, serving only the `enablePullRequestAutoMerge` mutation (auto-merge for a PR).

What it emulates: GitHub's answer shapes (`{"data": ...}` on success, `{"errors": [{"type", "message", ...}]}`
with HTTP 200 for a refusal, 401 without credentials, 400 for a body that is not JSON), REST's callers
(installation tokens need `pull_requests: write`, users need write access), the PR found by its `node_id`,
and GitHub's refusals: unknown id (NOT_FOUND), a closed or merged PR, a repository whose "Allow auto-merge"
setting (`allow_auto_merge`, off by default as on GitHub, set with `PATCH /repos/{owner}/{repo}`) is off.
On success the PR's `auto_merge` (REST) holds GitHub's auto-merge object and `pull_request`
`auto_merge_enabled` is emitted.

What it decides differently: GitHub refuses a PR already mergeable in a clean state with no required check
("Pull request is in clean status"), because nothing would ever trigger the merge. The sandbox has no branch
protection, so it accepts such a PR and records auto-merge; the PR then waits for a person to merge it,
since the sandbox never performs the merge itself when checks pass. Draft PRs, the merge queue and
auto-merge being disabled by a push or by closing the PR are not emulated. Any other query or mutation
answers GitHub's error shape; the selection set (aliases included) is not read: the answer always carries `pullRequest`
{id, number, autoMergeRequest {enabledAt, mergeMethod, commitHeadline, commitBody, enabledBy {login}}}.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from bot.sandbox import render
from bot.sandbox.common import (
    PERMISSION_RANK,
    ApiError,
    actor,
    hooks,
    respond,
    sender_login,
    store,
    user_permission,
)
from bot.sandbox.state import Store, now_iso

MUTATION = "enablePullRequestAutoMerge"
MERGE_METHODS = ("MERGE", "SQUASH", "REBASE")
DOCS = "https://docs.github.com/graphql"

_COMMENT = re.compile(r"#[^\n]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")


class QueryRefused(Exception):
    """A GraphQL error: answered with HTTP 200 and `{"errors": [...]}` (and `data` when execution began)."""

    def __init__(self, message: str, kind: str | None = None, *, executed: bool = False, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.executed = executed
        self.extra = extra

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message}
        if self.kind:
            error["type"] = self.kind
        if self.executed:
            error["path"] = [MUTATION]
        error.update(self.extra)
        answer: dict[str, Any] = {"errors": [error]}
        if self.executed:
            answer = {"data": {MUTATION: None}, **answer}
        return answer


# reading the query ---------------------------------------------------------------------------------


def _strip(query: str) -> str:
    """The query without comments, with string literals kept intact."""
    out, pos = [], 0
    for match in _STRING.finditer(query):
        out.append(_COMMENT.sub("", query[pos : match.start()]))
        out.append(match.group(0))
        pos = match.end()
    out.append(_COMMENT.sub("", query[pos:]))
    return "".join(out)


def _balanced(text: str, start: int, open_: str, close: str) -> int:
    """Index just past the bracket that closes the one at text[start] (strings skipped)."""
    depth, i = 0, start
    while i < len(text):
        if text[i] == '"':
            match = _STRING.match(text, i)
            i = match.end() if match else len(text)
            continue
        if text[i] == open_:
            depth += 1
        elif text[i] == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise QueryRefused("Parse error: unbalanced brackets in the query", extensions={"code": "parseError"})


def _literal(raw: str, variables: dict[str, Any]) -> Any:
    raw = raw.strip()
    if raw.startswith("$"):
        return variables.get(raw[1:])
    if raw.startswith('"'):
        return json.loads(raw)
    if raw in ("null",):
        return None
    return raw  # an enum value such as SQUASH


def _object_literal(text: str, variables: dict[str, Any]) -> dict[str, Any]:
    """`{key: value, ...}` with values that are variables, strings or enum values."""
    inner = text.strip()[1:-1]
    fields: dict[str, Any] = {}
    pattern = re.compile(
        r'\s*([_A-Za-z][_0-9A-Za-z]*)\s*:\s*(\$[_A-Za-z][_0-9A-Za-z]*|"(?:[^"\\]|\\.)*"|[_A-Za-z][_0-9A-Za-z]*)\s*,?'
    )
    pos = 0
    while pos < len(inner):
        if not inner[pos:].strip():
            break
        match = pattern.match(inner, pos)
        if match is None:
            raise QueryRefused("Parse error: the input object could not be read", extensions={"code": "parseError"})
        fields[match.group(1)] = _literal(match.group(2), variables)
        pos = match.end()
    return fields


def mutation_input(query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The `input` of the one mutation this endpoint serves, or a QueryRefused for anything else."""
    text = _strip(query).strip()
    if not text:
        raise QueryRefused("A query attribute must be specified and must be a string.")
    operation = _NAME.match(text)
    if operation is None or operation.group(0) != "mutation":
        field = (
            "query"
            if text.startswith("{") or (operation and operation.group(0) == "query")
            else (operation.group(0) if operation else text[:20])
        )
        raise QueryRefused(
            f"The sandbox serves only the {MUTATION} mutation, not this {field}",
            extensions={"code": "undefinedField"},
        )
    body_start = text.find("{")
    if body_start < 0:
        raise QueryRefused("Parse error: the mutation has no selection", extensions={"code": "parseError"})
    selection = text[body_start : _balanced(text, body_start, "{", "}")]
    chosen = re.match(r"\{\s*(?:[_A-Za-z][_0-9A-Za-z]*\s*:\s*)?([_A-Za-z][_0-9A-Za-z]*)", selection)
    if chosen is None or chosen.group(1) != MUTATION:
        name = chosen.group(1) if chosen else "?"
        raise QueryRefused(
            f"Field '{name}' doesn't exist on type 'Mutation'",
            extensions={"code": "undefinedField", "typeName": "Mutation", "fieldName": name},
        )
    args_start = selection.find("(", chosen.end(1))
    if args_start < 0 or selection[chosen.end(1) : args_start].strip():
        raise QueryRefused(
            f"Field '{MUTATION}' is missing required arguments: input", extensions={"code": "missingRequiredArguments"}
        )
    args = selection[args_start + 1 : _balanced(selection, args_start, "(", ")") - 1]
    found = re.match(r"\s*input\s*:\s*", args)
    if found is None:
        raise QueryRefused(
            f"Field '{MUTATION}' is missing required arguments: input", extensions={"code": "missingRequiredArguments"}
        )
    value = args[found.end() :].strip()
    if value.startswith("$"):
        given = variables.get(value[1:].strip())
        if not isinstance(given, dict):
            raise QueryRefused(
                f"Variable ${value[1:].strip()} of type EnablePullRequestAutoMergeInput! was provided invalid value",
                extensions={"code": "variableMismatch"},
            )
        return dict(given)
    if value.startswith("{"):
        return _object_literal(value[: _balanced(value, 0, "{", "}")], variables)
    raise QueryRefused(
        "Argument 'input' on Field 'enablePullRequestAutoMerge' has an invalid value",
        extensions={"code": "argumentLiteralsIncompatible"},
    )


# finding the PR ------------------------------------------------------------------------------------


def find_pull(st: Store, node_id: str) -> tuple[dict[str, Any], int] | None:
    """(repository, number) of the PR whose node_id this is."""
    for repo in st.data["repos"].values():
        for number, pr in repo.get("pulls", {}).items():
            if render.node("PullRequest", pr["id"]) == node_id:
                return repo, int(number)
    return None


def may_enable(request: web.Request, st: Store, repo: dict[str, Any]) -> None:
    """GitHub's refusals for a caller that cannot see the PR (NOT_FOUND) or may not change it (FORBIDDEN)."""
    who = actor(request)
    if who.kind == "installation":
        if not who.reaches(repo):
            raise LookupError
        granted = who.permissions.get("pull_requests", "none")
        if granted not in ("write", "admin"):
            raise QueryRefused("Resource not accessible by integration", "FORBIDDEN", executed=True)
        return
    if who.kind == "user":
        permission = user_permission(st, repo, who.login or "")
        if PERMISSION_RANK[permission] < PERMISSION_RANK["read"]:
            raise LookupError
        if PERMISSION_RANK[permission] < PERMISSION_RANK["write"]:
            raise QueryRefused(
                f"{who.login} does not have permission to enable auto-merge on this pull request.",
                "FORBIDDEN",
                executed=True,
            )
        return
    raise LookupError


def default_commit_text(repo: dict[str, Any], number: int, method: str) -> tuple[str, str]:
    """GitHub's default title and message for the commit auto-merge will make."""
    issue, pr = repo["issues"][str(number)], repo["pulls"][str(number)]
    if method == "merge":
        return f"Merge pull request #{number} from {repo['owner']['login']}/{pr['head_ref']}", issue["title"]
    return f"{issue['title']} (#{number})", issue.get("body") or ""


# the endpoint --------------------------------------------------------------------------------------


async def graphql(request: web.Request) -> web.Response:
    who = actor(request)
    if who.kind == "anonymous":
        raise ApiError(401, "This endpoint requires you to be authenticated.")
    if who.kind == "app":
        raise ApiError(403, "A JSON web token could not be used to access this endpoint; use an installation token")
    raw = await request.read()
    try:
        payload = json.loads(raw) if raw.strip() else None
    except ValueError:
        raise ApiError(400, "Problems parsing JSON") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "Problems parsing JSON")
    try:
        return respond(await enable_auto_merge(request, payload))
    except QueryRefused as refused:
        return respond(refused.body())


async def enable_auto_merge(request: web.Request, payload: dict[str, Any]) -> dict[str, Any]:
    st = store(request)
    query = payload.get("query")
    variables = payload.get("variables") or {}
    if not isinstance(query, str):
        raise QueryRefused("A query attribute must be specified and must be a string.")
    if not isinstance(variables, dict):
        raise QueryRefused("Variables must be a JSON object", extensions={"code": "variableMismatch"})
    given = mutation_input(query, variables)
    node_id = given.get("pullRequestId")
    if not isinstance(node_id, str) or not node_id:
        raise QueryRefused(
            "Argument 'pullRequestId' on InputObject 'EnablePullRequestAutoMergeInput' is required. Expected type ID!",
            extensions={"code": "missingRequiredInputObjectAttribute"},
        )
    method = given.get("mergeMethod") or "MERGE"
    if method not in MERGE_METHODS:
        raise QueryRefused(
            f"Argument 'mergeMethod' on InputObject 'EnablePullRequestAutoMergeInput' has an invalid value ({method}). "
            "Expected type 'PullRequestMergeMethod'.",
            extensions={"code": "argumentLiteralsIncompatible"},
        )
    unknown = QueryRefused(f"Could not resolve to a node with the global id of '{node_id}'", "NOT_FOUND", executed=True)
    found = find_pull(st, node_id)
    if found is None:
        raise unknown
    repo, number = found
    try:
        may_enable(request, st, repo)
    except LookupError:
        raise unknown from None
    issue, pr = repo["issues"][str(number)], repo["pulls"][str(number)]
    if pr.get("merged"):
        raise QueryRefused("Pull request is already merged", "UNPROCESSABLE", executed=True)
    if issue["state"] != "open":
        raise QueryRefused("Pull request is closed", "UNPROCESSABLE", executed=True)
    if not repo.get("allow_auto_merge", False):
        raise QueryRefused("Pull request Auto merge is not allowed for this repository", "UNPROCESSABLE", executed=True)
    merge_method = method.lower()
    title, message = default_commit_text(repo, number, merge_method)
    if isinstance(given.get("commitHeadline"), str):
        title = given["commitHeadline"]
    if isinstance(given.get("commitBody"), str):
        message = given["commitBody"]
    sender = sender_login(request)
    record = {
        "enabled_by": sender,
        "merge_method": merge_method,
        "commit_title": title,
        "commit_message": message,
        "enabled_at": (pr.get("auto_merge") or {}).get("enabled_at") or now_iso(),
    }
    changed = record != pr.get("auto_merge")
    pr["auto_merge"] = record
    if changed:
        issue["updated_at"] = now_iso()
        st.touch()
        hooks(request).emit(
            "pull_request",
            {
                "action": "auto_merge_enabled",
                "number": number,
                "pull_request": render.pull_request(st, repo, number),
                "reason": None,
            },
            repo=repo,
            sender=sender,
        )
    return {
        "data": {
            MUTATION: {
                "clientMutationId": given.get("clientMutationId"),
                "pullRequest": {
                    "id": node_id,
                    "number": number,
                    "autoMergeRequest": {
                        "enabledAt": record["enabled_at"],
                        "mergeMethod": method,
                        "commitHeadline": title,
                        "commitBody": message,
                        "enabledBy": {"login": sender},
                    },
                },
            }
        }
    }


def setup(app: web.Application) -> None:
    app.router.add_post("/graphql", graphql)
