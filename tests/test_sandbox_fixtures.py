"""The sandbox answers as recorded GitHub traffic does: @octokit/fixtures' scenarios, replayed over HTTP.

Each scenario in tests/reference/octokit-fixtures/ (see its README) is a list of exchanges recorded
against api.github.com. For each one the sandbox is seeded with the state the scenario assumes (its
organisation, repository, commits, team), then every recorded request whose operation the sandbox
serves is sent as recorded (method, path, Accept, body), and the answer is held to the recording:
the status, the headers that matter (Content-Type with its media type, X-GitHub-Media-Type,
Location, ETag, Link), and the body's shape (the same keys at every depth, the same JSON types, null
where GitHub answered null). A raw media type answers the file's bytes, compared exactly.

The recordings name commits by placeholders (000...001, 000...002, in order of appearance); each
scenario's seed maps them to the sandbox's real commits. Ids, dates and hosts differ by nature and
are not compared; URL paths are (numbers masked).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from bot.sandbox import seed
from bot.sandbox.harness import Answer, World

FIXTURES = Path(__file__).parent / "reference" / "octokit-fixtures"
ORG = "octokit-fixture-org"
USER_A = "octokit-fixture-user-a"
USER_B = "octokit-fixture-user-b"
GITHUB = "https://api.github.com"
PLACEHOLDER = re.compile(r"\b0{39}[1-9]\b")

# Recorded exchanges the sandbox does not serve, with why; every other exchange is replayed. The test
# checks that each of these is indeed not served, so a route added later gets replayed.
NOT_SERVED = {
    (
        "add-and-remove-repository-collaborator",
        1,
    ): "GET /repos/{o}/{r}/invitations (the sandbox adds collaborators at once)",
    ("add-and-remove-repository-collaborator", 2): "PATCH /user/repository_invitations/{id} (no pending invitations)",
    ("add-and-remove-repository-collaborator", 3): "GET /repos/{o}/{r}/collaborators (the bot reads one permission)",
    ("add-and-remove-repository-collaborator", 5): "GET /repos/{o}/{r}/collaborators",
    ("git-refs", 0): "GET /repos/{o}/{r}/git/refs/ (the bot lists refs through matching-refs)",
    ("git-refs", 3): "GET /repos/{o}/{r}/git/refs/",
}

# Recorded values that come from state the sandbox has no API to make, with why (by scenario and body path).
UNSEEDABLE = {
    ("get-repository", "topics"): "hello-world's three topics were set on github.com; the sandbox serves no topics API",
}

# Where the seeded state and the requests decide values too, they are compared, not only the shape:
# a label's name, colour, description and default flag (GitHub's nine defaults included).
VALUES = {
    "add-labels-to-issue": ("name", "color", "description", "default"),
    "labels": ("name", "color", "description", "default"),
    "create-status": ("state", "context", "description", "target_url"),
}


@dataclass
class Replay:
    """One scenario's run: the sandbox, the placeholders mapped to real values, what differed."""

    world: World
    shas: dict[str, str] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)
    replayed: list[str] = field(default_factory=list)

    def real(self, text: str) -> str:
        return PLACEHOLDER.sub(lambda m: self.shas.get(m.group(0), m.group(0)), text)


# seeds: the state each scenario's record.js set up before its recorded requests ----------------


async def empty_repo(world: World, name: str) -> dict[str, Any]:
    """A repository as the scenarios create it: POST /orgs/{org}/repos with only a name (no commit)."""
    answer = await world.call(USER_A, "POST", f"/orgs/{ORG}/repos", {"name": name})
    assert answer.status == 201, answer.body
    return answer.body  # type: ignore[no-any-return]


async def put_file(world: World, name: str, path: str, text: str, message: str) -> str:
    import base64

    answer = await world.call(
        USER_A,
        "PUT",
        f"/repos/{ORG}/{name}/contents/{path}",
        {"message": message, "content": base64.b64encode(text.encode()).decode()},
    )
    assert answer.status == 201, answer.body
    return str(answer.body["commit"]["sha"])


async def seed_empty(replay: Replay, name: str) -> None:
    await empty_repo(replay.world, name)


async def seed_one_commit(replay: Replay, name: str) -> None:
    await empty_repo(replay.world, name)
    replay.shas["0" * 39 + "1"] = await put_file(replay.world, name, "README.md", f"# {name}", "initial commit")


async def seed_branch_protection(replay: Replay, name: str) -> None:
    await seed_one_commit(replay, name)
    world = replay.world
    a_team = (
        "If you have a problem, if no one else can help you, then if you can find them, maybe you can hire the A-Team!"
    )
    team = await world.call(USER_A, "POST", f"/orgs/{ORG}/teams", {"name": "A-Team", "description": a_team})
    assert team.status == 201, team.body
    added = await world.call(USER_A, "PUT", f"/orgs/{ORG}/teams/a-team/repos/{ORG}/{name}", {"permission": "push"})
    assert added.status == 204, added.body


async def seed_git_refs(replay: Replay, name: str) -> None:
    world = replay.world
    await empty_repo(world, name)
    first = await put_file(world, name, "1.md", "# git-refs\ncreated with initial commit", "initial commit")
    second = await put_file(world, name, "2.md", "# git-refs\ncreated with 2nd commit", "2nd commit")
    # In order of appearance: main's head (the 2nd commit), then the initial commit.
    replay.shas.update({"0" * 39 + "1": second, "0" * 39 + "2": first})


async def seed_hello_world(replay: Replay, name: str) -> None:
    """octokit-fixture-org/hello-world: one README.md on master."""
    world = replay.world
    await empty_repo(world, "hello-world")
    sha = await put_file(world, "hello-world", "README.md", "# hello-world", "Initial commit")
    branch = await world.call(
        USER_A, "POST", f"/repos/{ORG}/hello-world/git/refs", {"ref": "refs/heads/master", "sha": sha}
    )
    assert branch.status == 201, branch.body
    patched = await world.call(USER_A, "PATCH", f"/repos/{ORG}/hello-world", {"default_branch": "master"})
    assert patched.status == 200, patched.body
    deleted = await world.call(USER_A, "DELETE", f"/repos/{ORG}/hello-world/git/refs/heads/main")
    assert deleted.status == 204, deleted.body


async def seed_issues(replay: Replay, name: str) -> None:
    await empty_repo(replay.world, name)
    for i in range(1, 14):
        made = await replay.world.call(USER_A, "POST", f"/repos/{ORG}/{name}/issues", {"title": f"Test issue {i}"})
        assert made.status == 201, made.body


Seed = Callable[[Replay, str], Awaitable[None]]
SCENARIOS: dict[str, Seed] = {
    "add-and-remove-repository-collaborator": seed_empty,  # user b comes into being on first use
    "add-labels-to-issue": seed_empty,
    "branch-protection": seed_branch_protection,
    "create-file": seed_empty,
    "create-status": seed_one_commit,
    "errors": seed_empty,
    "get-content": seed_hello_world,
    "get-repository": seed_hello_world,
    "git-refs": seed_git_refs,
    "labels": seed_empty,
    "paginate-issues": seed_issues,
}


# comparing ------------------------------------------------------------------------------------


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def shape_differences(recorded: Any, answered: Any, where: str = "", skip: frozenset[str] = frozenset()) -> list[str]:
    """Where the sandbox's body departs from the recorded one's shape: a missing key, another type, a
    value where GitHub answered null or null where it answered a value. Keys GitHub added after the
    recording are the OpenAPI conformance test's business, not this one's."""
    here = where or "(root)"
    if where in skip:
        return []
    if json_type(recorded) != json_type(answered):
        return [f"{here}: GitHub answered {json_type(recorded)}, the sandbox {json_type(answered)}"]
    if isinstance(recorded, dict):
        found = []
        for key, value in recorded.items():
            if key not in answered:
                found.append(f"{where}.{key}: missing".lstrip("."))
            else:
                found.extend(shape_differences(value, answered[key], f"{where}.{key}".lstrip("."), skip))
        return found
    if isinstance(recorded, list):
        if len(recorded) != len(answered):
            return [f"{here}: GitHub answered {len(recorded)} items, the sandbox {len(answered)}"]
        found = []
        for i, (a, b) in enumerate(zip(recorded, answered, strict=True)):
            found.extend(shape_differences(a, b, f"{where}[{i}]", skip))
        return found
    return []


def value_differences(recorded: Any, answered: Any, keys: tuple[str, ...], where: str = "") -> list[str]:
    """Where the values of `keys` differ, at every depth (the shapes are compared apart)."""
    if isinstance(recorded, dict) and isinstance(answered, dict):
        found = []
        for key, value in recorded.items():
            if key not in answered:
                continue
            path = f"{where}.{key}".lstrip(".")
            if key in keys and not isinstance(value, dict | list) and value != answered[key]:
                found.append(f"{path}: GitHub {value!r}, the sandbox {answered[key]!r}")
            else:
                found.extend(value_differences(value, answered[key], keys, path))
        return found
    if isinstance(recorded, list) and isinstance(answered, list):
        return [
            d
            for i, (a, b) in enumerate(zip(recorded, answered, strict=False))  # lengths: shape_differences
            for d in value_differences(a, b, keys, f"{where}[{i}]")
        ]
    return []


def url_path(url: str, replay: Replay) -> str:
    """A URL's path and query as compared: the host dropped, placeholders mapped, numbers masked."""
    parts = urlsplit(replay.real(url))
    masked = re.sub(r"/\d+(?=/|$)", "/{n}", parts.path)
    return masked + (f"?{parts.query}" if parts.query else "")


def link_rels(header: str | None) -> list[str]:
    return sorted(re.findall(r'rel="(\w+)"', header or ""))


def media_type(value: str | None) -> str:
    return (value or "").replace(" ", "").lower()


def header_differences(step: dict[str, Any], answer: Answer, replay: Replay) -> list[str]:
    recorded = {k.lower(): str(v) for k, v in step["headers"].items()}
    answered = {k.lower(): v for k, v in answer.headers.items()}
    found = []
    if step["status"] != 204 and media_type(recorded.get("content-type")) != media_type(answered.get("content-type")):
        found.append(
            f"Content-Type: GitHub {recorded.get('content-type')!r}, the sandbox {answered.get('content-type')!r}"
        )
    if recorded.get("x-github-media-type") != answered.get("x-github-media-type"):
        found.append(
            f"X-GitHub-Media-Type: GitHub {recorded.get('x-github-media-type')!r}, "
            f"the sandbox {answered.get('x-github-media-type')!r}"
        )
    if ("location" in recorded) != ("location" in answered):
        found.append(f"Location: GitHub {recorded.get('location')!r}, the sandbox {answered.get('location')!r}")
    elif "location" in recorded and url_path(recorded["location"], replay) != url_path(answered["location"], replay):
        found.append(f"Location: GitHub {recorded['location']!r}, the sandbox {answered['location']!r}")
    if ("etag" in recorded) != ("etag" in answered):
        found.append(
            f"ETag: GitHub {'sends' if 'etag' in recorded else 'sends none'}, the sandbox {answered.get('etag')!r}"
        )
    if link_rels(recorded.get("link")) != link_rels(answered.get("link")):
        found.append(
            f"Link: GitHub rels {link_rels(recorded.get('link'))}, the sandbox {link_rels(answered.get('link'))}"
        )
    return found


async def send(replay: Replay, step: dict[str, Any], path: str) -> Answer:
    accept = step["reqheaders"].get("accept", "application/vnd.github.v3+json")
    body = step.get("body")
    data = replay.real(json.dumps(body)).encode() if body not in ("", None) else None
    headers = {"Accept": accept, "Authorization": f"token {USER_A}"}
    if data is not None:
        headers["Content-Type"] = "application/json; charset=utf-8"
    world = replay.world
    async with world.session.request(step["method"].upper(), world.api_url + path, data=data, headers=headers) as resp:
        raw = await resp.read()
        text = raw.decode()
        is_json = resp.content_type == "application/json"
        return Answer(resp.status, dict(resp.headers), json.loads(text) if is_json and text else text)


async def served(world: World, method: str, path: str) -> bool:
    """Whether the sandbox has a route for this request (its router's answer, not a 404 of a missing thing)."""
    match = await world.app.router.resolve(make_mocked_request(method.upper(), path, app=world.app))
    return match.http_exception is None


async def replay_step(replay: Replay, scenario: str, index: int, step: dict[str, Any], path: str) -> Answer:
    answer = await send(replay, step, path)
    what = f"{scenario}[{index}] {step['method'].upper()} {step['path']}"
    replay.replayed.append(what)
    found = []
    if answer.status != step["status"]:
        found.append(f"status: GitHub {step['status']}, the sandbox {answer.status} {answer.body!r:.300}")
    else:
        found.extend(header_differences(step, answer, replay))
        recorded = step["response"]
        if isinstance(recorded, str) and recorded:
            if answer.body != recorded:
                found.append(f"body: GitHub {recorded!r:.200}, the sandbox {answer.body!r:.200}")
        elif recorded not in ("", None):
            skip = frozenset(path for (name, path) in UNSEEDABLE if name == scenario)
            found.extend(f"body {d}" for d in shape_differences(recorded, answer.body, skip=skip))
            found.extend(f"body {d}" for d in value_differences(recorded, answer.body, VALUES.get(scenario, ())))
    replay.differences.extend(f"{what}: {d}" for d in found)
    return answer


async def play(world: World, scenario: str) -> Replay:
    steps = json.loads((FIXTURES / f"{scenario}.json").read_text())
    replay = Replay(world)
    await SCENARIOS[scenario](replay, scenario)
    next_page: str | None = None
    for index, step in enumerate(steps):
        path = replay.real(step["path"])
        if scenario == "paginate-issues" and index > 0:
            # A client follows the Link header it was given: GitHub's names the repository by id.
            assert next_page, f"{scenario}[{index}]: the sandbox gave no next page to follow"
            path = next_page
        if not await served(world, step["method"], path):
            assert (scenario, index) in NOT_SERVED, f"{scenario}[{index}] {step['method']} {path} is not served"
            continue
        assert (scenario, index) not in NOT_SERVED, f"{scenario}[{index}] is served now: replay it"
        answer = await replay_step(replay, scenario, index, step, path)
        nxt = re.search(r'<([^>]+)>; rel="next"', answer.headers.get("Link", ""))
        next_page = urlsplit(nxt.group(1))._replace(scheme="", netloc="").geturl() if nxt else None
    return replay


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_the_sandbox_answers_as_github_recorded(sandbox: World, scenario: str) -> None:
    replay = await play(sandbox, scenario)
    assert replay.replayed, f"{scenario}: nothing replayed"
    assert not replay.differences, f"{len(replay.differences)} differences from GitHub's recording:\n" + "\n".join(
        replay.differences
    )


def test_every_vendored_scenario_is_replayed() -> None:
    vendored = sorted(p.stem for p in FIXTURES.glob("*.json"))
    assert vendored == sorted(SCENARIOS)


def test_shape_comparison_sees_keys_types_and_nulls() -> None:
    recorded = {"a": 1, "b": {"c": None, "d": "x"}, "e": [{"f": True}]}
    assert shape_differences(recorded, {"a": 2, "b": {"c": None, "d": "y", "z": 1}, "e": [{"f": False}]}) == []
    assert shape_differences(recorded, {"a": "1", "b": {"c": 3}, "e": []}) == [
        "a: GitHub answered number, the sandbox string",
        "b.c: GitHub answered null, the sandbox number",
        "b.d: missing",
        "e: GitHub answered 1 items, the sandbox 0",
    ]
    assert value_differences(recorded, {"a": 1, "b": {"d": "y"}, "e": [{"f": False}]}, ("d", "f")) == [
        "b.d: GitHub 'x', the sandbox 'y'",
        "e[0].f: GitHub True, the sandbox False",
    ]


# media types, Location and ETag beyond what the scenarios record ---------------------------------
#
# GitHub answers a custom media type under the name it was asked by (`application/vnd.github.diff`, or
# `application/vnd.github.v3.diff`), with `; charset=utf-8`, and says which in X-GitHub-Media-Type
# (`github.v3; param=diff`), as get-content's recording shows for raw.

REPO = f"{ORG}/app"


async def feature_pull(world: World) -> dict[str, Any]:
    """main with two files; fr/FR-1 two commits ahead; main one commit ahead elsewhere; a PR between them."""
    await seed.create_org_repo(
        world, ORG, "app", admin=USER_A, files={"app.py": "one\ntwo\nthree\n", "lib.py": "lib\n", "logo.png": "\x89PNG"}
    )
    await seed.create_branch(world, USER_A, REPO, "fr/FR-1", "main")
    f1 = await seed.commit(world, USER_A, REPO, "fr/FR-1", {"app.py": "ONE\ntwo\nthree\n"}, "FR-1: first")
    f2 = await seed.commit(world, USER_A, REPO, "fr/FR-1", {"new.py": "new\n", "lib.py": None}, "FR-1: second")
    m1 = await seed.commit(world, USER_A, REPO, "main", {"app.py": "one\ntwo\nTHREE\n"}, "main moves")
    pr = await seed.open_pr(world, USER_A, REPO, head="fr/FR-1", base="main", title="FR-1")
    return {"f1": f1, "f2": f2, "m1": m1, "number": pr["number"]}


async def get_as(world: World, path: str, accept: str) -> tuple[int, CIMultiDict[str], bytes]:
    headers = {"Accept": accept, "Authorization": f"token {USER_A}"}
    async with world.session.get(world.api_url + path, headers=headers) as resp:
        return resp.status, CIMultiDict(resp.headers), await resp.read()


def headers_of(answer: Answer) -> CIMultiDict[str]:
    return CIMultiDict(answer.headers)


def clone(world: World, tmp_path: Path) -> Path:
    from bot.sandbox.common import GIT
    from git_cli import real_git

    work = tmp_path / "work"
    real_git(tmp_path, "clone", "--quiet", "--no-checkout", str(world.app[GIT].path(REPO)), str(work))
    return work


async def test_a_pull_answers_its_diff_and_patch_as_git_makes_them(sandbox: World, tmp_path: Path) -> None:
    from git_cli import real_git

    made = await feature_pull(sandbox)
    path = f"/repos/{REPO}/pulls/{made['number']}"
    work = clone(sandbox, tmp_path)
    for accept in ("application/vnd.github.diff", "application/vnd.github.v3.diff"):
        status, headers, body = await get_as(sandbox, path, accept)
        assert status == 200
        assert headers["Content-Type"] == f"{accept}; charset=utf-8"
        assert headers["X-GitHub-Media-Type"] == "github.v3; param=diff"
        assert "ETag" in headers
        assert body.decode().strip() == real_git(work, "diff", "-M", f"{made['m1']}...{made['f2']}")
    status, headers, body = await get_as(sandbox, path, "application/vnd.github.patch")
    assert (status, headers["Content-Type"]) == (200, "application/vnd.github.patch; charset=utf-8")
    assert headers["X-GitHub-Media-Type"] == "github.v3; param=patch"
    patch = body.decode()
    assert patch.startswith(f"From {made['f1']} ")
    assert "Subject: [PATCH 1/2] FR-1: first" in patch and "Subject: [PATCH 2/2] FR-1: second" in patch
    assert f"From {made['f2']} " in patch and made["m1"] not in patch
    # Without a custom media type the pull request is JSON, as before.
    status, headers, body = await get_as(sandbox, path, "application/vnd.github+json")
    assert (status, headers["X-GitHub-Media-Type"]) == (200, "github.v3; format=json")
    assert json.loads(body)["number"] == made["number"]


async def test_commits_and_compare_answer_diff_patch_and_sha(sandbox: World, tmp_path: Path) -> None:
    from git_cli import real_git

    made = await feature_pull(sandbox)
    work = clone(sandbox, tmp_path)
    status, headers, body = await get_as(sandbox, f"/repos/{REPO}/commits/fr/FR-1", "application/vnd.github.sha")
    assert (status, body.decode(), headers["X-GitHub-Media-Type"]) == (200, made["f2"], "github.v3; param=sha")
    status, _, body = await get_as(sandbox, f"/repos/{REPO}/commits/{made['f1']}", "application/vnd.github.diff")
    assert status == 200 and body.decode().strip() == real_git(work, "diff", "-M", f"{made['f1']}^", made["f1"])
    status, _, body = await get_as(sandbox, f"/repos/{REPO}/commits/{made['f1']}", "application/vnd.github.patch")
    assert status == 200 and body.decode().startswith(f"From {made['f1']} ") and "[PATCH] FR-1: first" in body.decode()
    compare = f"/repos/{REPO}/compare/main...fr/FR-1"
    status, headers, body = await get_as(sandbox, compare, "application/vnd.github.v3.diff")
    assert (status, headers["Content-Type"]) == (200, "application/vnd.github.v3.diff; charset=utf-8")
    assert body.decode().strip() == real_git(work, "diff", "-M", f"{made['m1']}...{made['f2']}")


async def test_contents_answer_raw_bytes(sandbox: World) -> None:
    await feature_pull(sandbox)
    for accept in ("application/vnd.github.raw", "application/vnd.github.v3.raw", "application/vnd.github.raw+json"):
        status, headers, body = await get_as(sandbox, f"/repos/{REPO}/contents/app.py?ref=fr/FR-1", accept)
        assert (status, body) == (200, b"ONE\ntwo\nthree\n")
        asked = accept.removesuffix("+json")
        assert headers["Content-Type"] == f"{asked}; charset=utf-8"
        assert headers["X-GitHub-Media-Type"] == "github.v3; param=raw"
    status, _, body = await get_as(sandbox, f"/repos/{REPO}/contents/logo.png", "application/vnd.github.raw")
    assert (status, body) == (200, "\x89PNG".encode())
    # A directory has no raw form: its listing stays JSON.
    status, headers, body = await get_as(sandbox, f"/repos/{REPO}/contents/", "application/vnd.github.raw")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert {e["name"] for e in json.loads(body)} == {"app.py", "lib.py", "logo.png"}
    status, _, _ = await get_as(sandbox, f"/repos/{REPO}/contents/nothing.txt", "application/vnd.github.raw")
    assert status == 404


# The operations the sandbox serves whose 201 GitHub's OpenAPI description documents with a Location header.
LOCATED = {
    "POST /orgs/{org}/repos",
    "POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
    "POST /repos/{owner}/{repo}/git/blobs",
    "POST /repos/{owner}/{repo}/git/commits",
    "POST /repos/{owner}/{repo}/git/refs",
    "POST /repos/{owner}/{repo}/git/tags",
    "POST /repos/{owner}/{repo}/git/trees",
    "POST /repos/{owner}/{repo}/issues",
    "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
    "POST /repos/{owner}/{repo}/labels",
    "POST /repos/{owner}/{repo}/milestones",
    "POST /repos/{owner}/{repo}/pulls",
    "POST /repos/{owner}/{repo}/releases",
    "POST /repos/{owner}/{repo}/statuses/{sha}",
    "POST /user/repos",
}


async def test_every_201_names_what_it_made_and_carries_an_etag(sandbox: World) -> None:
    made = await feature_pull(sandbox)
    base = f"/repos/{REPO}"
    blob = {"content": "x", "encoding": "utf-8"}
    deployment = await sandbox.call(
        USER_A, "POST", f"{base}/deployments", {"ref": "main", "environment": "staging", "required_contexts": []}
    )
    assert deployment.status == 201, deployment.body
    creations: dict[str, tuple[str, Any]] = {
        "POST /orgs/{org}/repos": (f"/orgs/{ORG}/repos", {"name": "other"}),
        "POST /user/repos": ("/user/repos", {"name": "mine"}),
        "POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses": (
            f"{base}/deployments/{deployment.body['id']}/statuses",
            {"state": "success"},
        ),
        "POST /repos/{owner}/{repo}/git/blobs": (f"{base}/git/blobs", blob),
        "POST /repos/{owner}/{repo}/git/trees": (
            f"{base}/git/trees",
            {"tree": [{"path": "x", "mode": "100644", "type": "blob", "content": "x"}]},
        ),
        "POST /repos/{owner}/{repo}/git/commits": (f"{base}/git/commits", None),
        "POST /repos/{owner}/{repo}/git/refs": (f"{base}/git/refs", {"ref": "refs/heads/made", "sha": made["m1"]}),
        "POST /repos/{owner}/{repo}/git/tags": (
            f"{base}/git/tags",
            {"tag": "v0", "message": "v0", "object": made["m1"], "type": "commit"},
        ),
        "POST /repos/{owner}/{repo}/issues": (f"{base}/issues", {"title": "It breaks"}),
        "POST /repos/{owner}/{repo}/issues/{issue_number}/comments": (
            f"{base}/issues/{made['number']}/comments",
            {"body": "hi"},
        ),
        "POST /repos/{owner}/{repo}/labels": (f"{base}/labels", {"name": "good first issue ok"}),
        "POST /repos/{owner}/{repo}/milestones": (f"{base}/milestones", {"title": "1.0"}),
        "POST /repos/{owner}/{repo}/pulls": (f"{base}/pulls", {"head": "made", "base": "fr/FR-1", "title": "t"}),
        "POST /repos/{owner}/{repo}/releases": (f"{base}/releases", {"tag_name": "v1", "target_commitish": "main"}),
        "POST /repos/{owner}/{repo}/statuses/{sha}": (
            f"{base}/statuses/{made['m1']}",
            {"state": "success", "context": "ci"},
        ),
    }
    assert set(creations) == LOCATED
    tree_sha = None
    for operation, (path, body) in creations.items():
        if operation.endswith("/git/commits"):
            body = {"message": "m", "tree": tree_sha, "parents": [made["m1"]]}
        answer = await sandbox.call(USER_A, "POST", path, body)
        assert answer.status == 201, (operation, answer.body)
        if operation.endswith("/git/trees"):
            tree_sha = answer.body["sha"]
        assert "ETag" in headers_of(answer), operation
        location = headers_of(answer).get("Location")
        assert location == answer.body["url"], (operation, location)
        # The Location is a place the thing can be read back from. GitHub's for a ref (git/refs/...) and
        # for a status (statuses/{sha}) are its older reading paths; its description documents the
        # reading at git/ref/... and commits/{sha}/statuses, which the sandbox serves.
        readable = location.removeprefix(sandbox.api_url).replace("/git/refs/", "/git/ref/")
        if operation.endswith("/statuses/{sha}"):
            readable = re.sub(r"/statuses/(\w+)$", r"/commits/\1/statuses", readable)
        again = await sandbox.call(USER_A, "GET", readable)
        assert again.status == 200, (operation, location, again.body)
        if operation.endswith("/statuses/{sha}"):
            assert any(s["id"] == answer.body["id"] for s in again.body), operation
        else:
            key = "sha" if "/git/" in operation and not operation.endswith("/refs") else "url"
            assert again.body[key] == answer.body[key], operation


async def test_writes_carry_an_etag_and_a_no_content_answer_none(sandbox: World) -> None:
    made = await feature_pull(sandbox)
    edited = await sandbox.call(USER_A, "PATCH", f"/repos/{REPO}/issues/{made['number']}", {"title": "FR-1 login"})
    assert edited.status == 200 and headers_of(edited)["ETag"].startswith('W/"')
    moved = await sandbox.call(
        USER_A, "PATCH", f"/repos/{REPO}/git/refs/heads/fr/FR-1", {"sha": made["m1"], "force": True}
    )
    assert moved.status == 200 and "ETag" in headers_of(moved) and "Location" not in headers_of(moved)
    gone = await sandbox.call(USER_A, "DELETE", f"/repos/{REPO}/git/refs/heads/fr/FR-1")
    assert gone.status == 204 and "ETag" not in headers_of(gone)
    refused = await sandbox.call(USER_A, "POST", f"/repos/{REPO}/labels", {"name": "bug"})
    assert refused.status == 422 and "ETag" not in headers_of(refused)


async def test_a_label_is_edited_and_deleted_where_issues_carry_it(sandbox: World) -> None:
    made = await feature_pull(sandbox)
    number = made["number"]
    await seed.grant(sandbox, REPO, "reader", "read")
    await seed.grant(sandbox, REPO, "triager", "triage")
    await seed.add_labels(sandbox, USER_A, REPO, number, "needs review")
    # A reader and a triage user cannot rename or delete the repository's labels (GitHub wants push).
    for login in ("reader", "triager"):
        renamed = await sandbox.call(login, "PATCH", f"/repos/{REPO}/labels/needs%20review", {"new_name": "approved"})
        assert renamed.status == 403, renamed.body
        deleted = await sandbox.call(login, "DELETE", f"/repos/{REPO}/labels/needs%20review")
        assert deleted.status == 403, deleted.body
    label = await sandbox.call(USER_A, "GET", f"/repos/{REPO}/labels/needs%20review")
    assert (label.status, label.body["name"]) == (200, "needs review")
    # The writer renames it: the answer is the label as it is now, and the PR carries the new name.
    renamed = await sandbox.call(
        USER_A,
        "PATCH",
        f"/repos/{REPO}/labels/needs%20review",
        {"new_name": "in review", "color": "BADA55", "description": "Being read"},
    )
    assert renamed.status == 200, renamed.body
    assert {k: renamed.body[k] for k in ("name", "color", "description", "default")} == {
        "name": "in review",
        "color": "BADA55",
        "description": "Being read",
        "default": False,
    }
    assert renamed.body["url"].endswith(f"/repos/{REPO}/labels/in%20review")
    assert (await sandbox.call(USER_A, "GET", renamed.body["url"].removeprefix(sandbox.api_url))).status == 200
    assert (await sandbox.call(USER_A, "GET", f"/repos/{REPO}/labels/needs%20review")).status == 404
    pull_labels = (await sandbox.call(USER_A, "GET", f"/repos/{REPO}/issues/{number}/labels")).body
    assert [lab["name"] for lab in pull_labels] == ["in review"]
    taken = await sandbox.call(USER_A, "PATCH", f"/repos/{REPO}/labels/in%20review", {"new_name": "bug"})
    assert taken.status == 422 and taken.body["errors"][0]["code"] == "already_exists"
    # Deleted, it is gone from the repository and from the PR.
    assert (await sandbox.call(USER_A, "DELETE", f"/repos/{REPO}/labels/in%20review")).status == 204
    assert (await sandbox.call(USER_A, "GET", f"/repos/{REPO}/issues/{number}/labels")).body == []
    assert (await sandbox.call(USER_A, "DELETE", f"/repos/{REPO}/labels/in%20review")).status == 404
