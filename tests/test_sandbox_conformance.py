"""The sandbox held to GitHub: its routes exist in the OpenAPI description, its answers fit their schemas, its webhooks carry GitHub's keys.

One scenario drives every operation the sandbox serves, as people and as the app, happy and error
paths; every answer seen on the way is validated against the vendored schema for that operation and
status. Webhooks sent during the scenario are compared, key by key and at every depth, with GitHub's
own example payloads for that event and action (tests/reference/, see its README).
"""

from __future__ import annotations

import base64
import json
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
import yaml
from aiohttp import web
from gidgethub import apps

from bot.sandbox.app import DEFAULT_MANIFEST, REQUEST_LOG
from bot.sandbox.harness import Answer, World
from bot.sandbox.routes.manifests import WEB_PAGES
from bot.sandbox.runner import start_sandbox
from reference.vendor import aiohttp_template, template_key

REFERENCE = Path(__file__).parent / "reference"
# What the sandbox sends: event and action (None for events without one).
SENT_EVENTS = (
    *[("pull_request", a) for a in ("opened", "edited", "closed", "reopened", "synchronize", "labeled", "unlabeled")],
    *[("issues", a) for a in ("opened", "edited", "closed", "reopened", "labeled", "unlabeled")],
    ("issue_comment", "created"),
    ("issue_comment", "edited"),
    ("push", None),
    ("create", None),
    ("delete", None),
    ("status", None),
    ("check_run", "created"),
    ("check_run", "completed"),
    ("check_suite", "completed"),
    ("release", "published"),
    ("deployment", "created"),
)
# Events GitHub's examples file has no payload for: held to their x-webhooks schema instead.
WEBHOOK_SCHEMAS = {("deployment_protection_rule", "requested"): "deployment-protection-rule-requested"}
REFRESH = "run `.venv/bin/python tests/reference/vendor.py` to vendor it"


# references --------------------------------------------------------------------------------


def openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: `nullable: true` becomes a null alternative."""
    if isinstance(node, list):
        return [openapi_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    converted = {
        k: openapi_to_json_schema(v)
        for k, v in node.items()
        if k not in ("nullable", "example", "examples", "discriminator")
    }
    if node.get("nullable"):
        if "enum" in converted and None not in converted["enum"]:
            converted["enum"] = [*converted["enum"], None]
        if isinstance(converted.get("type"), str) and set(converted) <= {
            "type",
            "description",
            "title",
            "format",
            "enum",
            "properties",
            "required",
            "items",
            "additionalProperties",
            "default",
            "readOnly",
            "maxLength",
            "minLength",
            "minimum",
            "maximum",
            "pattern",
            "uniqueItems",
            "maxItems",
            "minItems",
            "deprecated",
        }:
            converted["type"] = [converted["type"], "null"]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


def reference_errata(node: Any) -> Any:
    """Known slips in GitHub's description, put right before validating.

    - Some inlined operations give an installation's `account` as allOf[Simple User, Enterprise], which
      nothing can satisfy; components/schemas/installation itself says anyOf, and that is what GitHub sends.
    - A pull request's `labels[].description` is typed string, but a label without a description is
      null there as everywhere else (components/schemas/label says nullable).
    - Branch protection's `required_status_checks` request lists the deprecated `contexts` as
      required, but GitHub takes exactly one of `contexts` and `checks` (both, or neither, is its
      422 "More than one subschema in \"oneOf\" matched"; github/rest-api-description has no fix yet).
    """
    if isinstance(node, list):
        return [reference_errata(n) for n in node]
    if not isinstance(node, dict):
        return node
    fixed = {k: reference_errata(v) for k, v in node.items()}
    titles = [m.get("title") for m in fixed.get("allOf", []) if isinstance(m, dict)]
    if titles == ["Simple User", "Enterprise"]:
        fixed["anyOf"] = fixed.pop("allOf")
    labels = (fixed.get("properties") or {}).get("labels") if isinstance(fixed.get("properties"), dict) else None
    label_props = ((labels or {}).get("items") or {}).get("properties") if isinstance(labels, dict) else None
    if isinstance(label_props, dict) and isinstance(label_props.get("description"), dict):
        label_props["description"] = {**label_props["description"], "nullable": True}
    props = fixed.get("properties") if isinstance(fixed.get("properties"), dict) else {}
    if set(props) >= {"strict", "contexts", "checks"} and fixed.get("required") == ["strict", "contexts"]:
        fixed["required"] = ["strict"]
        fixed["oneOf"] = [{"required": ["contexts"]}, {"required": ["checks"]}]
    return fixed


class Reference:
    def __init__(self) -> None:
        self.paths = json.loads((REFERENCE / "openapi-paths.json").read_text())["paths"]
        vendored = json.loads((REFERENCE / "openapi-operations.json").read_text())
        self.operations: dict[str, Any] = vendored["operations"]
        self.components = openapi_to_json_schema(reference_errata(vendored["components"]))
        self.webhooks = {e["name"]: e for e in json.loads((REFERENCE / "webhook-examples.json").read_text())}
        self.by_key = {f"{key.split(' ')[0]} {template_key(key.split(' ', 1)[1])}": key for key in self.operations}
        self._validators: dict[tuple[str, str], Any] = {}

    def path_exists(self, method: str, template: str) -> bool:
        wanted = template_key(template)
        return any(template_key(p) == wanted and method in methods for p, methods in self.paths.items())

    def operation_for(self, method: str, template: str) -> str | None:
        return self.by_key.get(f"{method} {template_key(template)}")

    def validator(self, schema_key: tuple[str, str], schema: dict[str, Any]) -> Any:
        found = self._validators.get(schema_key)
        if found is None:
            root = {**openapi_to_json_schema(reference_errata(schema)), "components": self.components}
            found = jsonschema.Draft202012Validator(root)
            self._validators[schema_key] = found
        return found

    def response_schema(self, operation: str, status: int) -> tuple[str, dict[str, Any] | None] | None:
        """The documented schema for this status; GitHub's basic error for an undocumented error status."""
        responses = self.operations[operation]["responses"]
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in responses:
                return key, responses[key]["schema"]
        if status >= 400:
            error = "validation-error" if status == 422 else "basic-error"
            return f"undocumented {status}", {"$ref": f"#/components/schemas/{error}"}
        return None


REF = Reference()


# recording ---------------------------------------------------------------------------------
class Recorder:
    """Every answer the sandbox gives during the scenario, validated against its operation's schema."""

    def __init__(self) -> None:
        self.seen: dict[str, set[int]] = defaultdict(set)
        self.problems: list[str] = []
        self.undocumented: set[str] = set()

    async def on_response_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        resource = request.match_info.route.resource if request.match_info.route else None
        if (
            resource is None
            or resource.canonical.startswith(("/_sandbox/", "/_html"))
            or resource.canonical in NOT_REST
        ):
            return
        template = aiohttp_template(resource.canonical)
        operation = REF.operation_for(request.method, template)
        if operation is None:
            self.problems.append(f"{request.method} {template}: no vendored operation ({REFRESH})")
            return
        self.seen[operation].add(response.status)
        if 200 <= response.status < 300:
            await self.check_request(operation, request)
        if response.status in (204, 304) or request.method == "HEAD":
            return
        found = REF.response_schema(operation, response.status)
        if found is None:
            self.problems.append(f"{operation} answered {response.status}, which GitHub does not document")
            return
        status_key, schema = found
        if status_key.startswith("undocumented"):
            self.undocumented.add(f"{operation} {response.status}")
        if schema is None:
            return
        body = getattr(response, "body", None)
        try:
            answer = json.loads(body) if body else None
        except ValueError:
            if response.content_type.startswith("application/json"):
                self.problems.append(f"{operation} {response.status}: body is not JSON")
            return
        errors = sorted(
            REF.validator((operation, status_key), schema).iter_errors(answer), key=lambda e: list(e.absolute_path)
        )
        for error in errors[:3]:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            self.problems.append(f"{operation} {response.status} at {where}: {error.message[-400:]}")

    async def check_request(self, operation: str, request: web.Request) -> None:
        """A request the sandbox accepted must be one GitHub's schema accepts too (else the sandbox is lenient)."""
        schema = REF.operations[operation].get("request")
        raw = await request.read() if request.can_read_body or request.body_exists else b""
        if schema is None or not raw.strip():
            return
        try:
            sent = json.loads(raw)
        except ValueError:
            return
        errors = list(REF.validator((operation, "request"), schema).iter_errors(sent))
        for error in errors[:3]:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            self.problems.append(f"{operation} accepted a request GitHub refuses, at {where}: {error.message[-300:]}")


class HookCatcher:
    """The app's webhook endpoint during the scenario: keeps every payload by (event, action)."""

    def __init__(self) -> None:
        self.payloads: dict[tuple[str, str | None], list[dict[str, Any]]] = defaultdict(list)

    async def handle(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.payloads[(request.headers["X-GitHub-Event"], payload.get("action"))].append(payload)
        return web.Response(status=202)


class Scenario:
    """A sandbox recording every answer, with helpers to act as people and as the app."""

    def __init__(self, world: World, recorder: Recorder, hooks: HookCatcher) -> None:
        self.world = world
        self.recorder = recorder
        self.hooks = hooks
        self._token: str | None = None

    def jwt(self) -> str:
        key = self.world.private_key()
        return apps.get_jwt(app_id=str(self.world.sandbox.config.app_id), private_key=key)

    async def user(
        self,
        login: str | None,
        method: str,
        path: str,
        body: Any = None,
        expect: int | tuple[int, ...] | None = None,
        **headers: str,
    ) -> Answer:
        answer = await self.world.call(login, method, path, body, headers=headers or None)
        self._expect(method, path, answer, expect)
        return answer

    async def app(
        self, method: str, path: str, body: Any = None, expect: int | tuple[int, ...] | None = None
    ) -> Answer:
        answer = await self.world.call(None, method, path, body, headers={"Authorization": f"Bearer {self.jwt()}"})
        self._expect(method, path, answer, expect)
        return answer

    async def bot(
        self, owner: str, method: str, path: str, body: Any = None, expect: int | tuple[int, ...] | None = None
    ) -> Answer:
        if self._token is None:
            inst = await self.app("GET", f"/orgs/{owner}/installation", expect=200)
            self._token = (
                await self.app("POST", f"/app/installations/{inst.body['id']}/access_tokens", expect=201)
            ).body["token"]
        answer = await self.world.call(None, method, path, body, headers={"Authorization": f"token {self._token}"})
        self._expect(method, path, answer, expect)
        return answer

    @staticmethod
    def _expect(method: str, path: str, answer: Answer, expect: int | tuple[int, ...] | None) -> None:
        if expect is None:
            return
        wanted = (expect,) if isinstance(expect, int) else expect
        assert answer.status in wanted, f"{method} {path}: {answer.status} {answer.body}"


@asynccontextmanager
async def open_scenario(tmp_path: Path, session: aiohttp.ClientSession) -> AsyncIterator[Scenario]:
    recorder, catcher = Recorder(), HookCatcher()

    def prepare(app: web.Application) -> None:
        app.on_response_prepare.append(recorder.on_response_prepare)

    receiver = web.Application()
    receiver.router.add_post("/webhook", catcher.handle)
    receiver_runner = web.AppRunner(receiver, access_log=None)
    await receiver_runner.setup()
    site = web.TCPSite(receiver_runner, "127.0.0.1", 0)
    await site.start()
    port = receiver_runner.addresses[0][1]
    # The project's manifest, subscribed to every event GitHub has an example of, so that whatever the
    # sandbox sends is compared.
    manifest = yaml.safe_load(DEFAULT_MANIFEST.read_text())
    manifest["default_events"] = sorted(
        set(manifest["default_events"])
        | {event for event, _ in SENT_EVENTS}
        | set(REF.webhooks)
        | {event for event, _ in WEBHOOK_SCHEMAS}
    )
    manifest_path = tmp_path / "app.yml"
    manifest_path.write_text(yaml.safe_dump(manifest))
    running = await start_sandbox(
        state_dir=tmp_path / "sandbox",
        webhook_url=f"http://127.0.0.1:{port}/webhook",
        webhook_secret="s",
        manifest=manifest_path,
        prepare=prepare,
    )
    world = World(running, session)
    try:
        yield Scenario(world, recorder, catcher)
    finally:
        await running.stop()
        await receiver_runner.cleanup()


@dataclass
class Played:
    """What one run of the whole scenario left behind: the validated answers and the webhooks received."""

    recorder: Recorder
    payloads: dict[tuple[str, str | None], list[dict[str, Any]]]
    served: set[str | None]


_PLAYED: dict[str, Played] = {}


@pytest.fixture
async def played(tmp_path: Path, session: aiohttp.ClientSession) -> Played:
    """The scenario is played once per test session; its records are plain data, so tests share them."""
    if "scenario" not in _PLAYED:
        async with open_scenario(tmp_path, session) as s:
            await drive_everything(s)
            served = {REF.operation_for(m, t) for m, t in served_routes(s.world)}
            _PLAYED["scenario"] = Played(s.recorder, dict(s.hooks.payloads), served)
    return _PLAYED["scenario"]


# GraphQL's one endpoint is not a REST operation: the OpenAPI description has nothing to hold it to
# (tests/test_sandbox_graphql.py holds it to GitHub's GraphQL answers instead).
# GitHub's web pages for the manifest flow are HTML forms, not REST operations either.
NOT_REST = frozenset({"/graphql", *WEB_PAGES})


def served_routes(world: World) -> set[tuple[str, str]]:
    routes = set()
    for route in world.app.router.routes():
        canonical = route.resource.canonical if route.resource is not None else ""
        if canonical.startswith(("/_sandbox/", "/_html")) or route.method in ("HEAD", "*"):
            continue
        if canonical in NOT_REST:
            continue
        routes.add((route.method, aiohttp_template(canonical)))
    return routes


# 1. every route exists in GitHub's description ---------------------------------------------
async def test_every_route_exists_in_githubs_description(sandbox: World) -> None:
    missing = sorted(f"{m} {t}" for m, t in served_routes(sandbox) if not REF.path_exists(m, t))
    assert missing == []


async def test_every_route_has_its_operation_vendored(sandbox: World) -> None:
    missing = sorted(f"{m} {t}" for m, t in served_routes(sandbox) if REF.operation_for(m, t) is None)
    assert missing == [], REFRESH


def test_nullable_becomes_a_null_alternative() -> None:
    schema = openapi_to_json_schema(
        {
            "type": "object",
            "properties": {
                "closed_at": {"type": "string", "format": "date-time", "nullable": True},
                "milestone": {"nullable": True, "allOf": [{"$ref": "#/x"}]},
                "state_reason": {"type": "string", "enum": ["completed"], "nullable": True},
            },
        }
    )
    validator = jsonschema.Draft202012Validator({**schema, "x": {"type": "object"}})
    assert validator.is_valid({"closed_at": None, "milestone": None, "state_reason": None})
    assert not validator.is_valid({"closed_at": 3})
    assert not validator.is_valid({"state_reason": "nope"})


# 2. every operation, driven and validated --------------------------------------------------
def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def drive_apps(s: Scenario) -> None:
    await s.app("GET", "/app", expect=200)
    await s.user("alice", "GET", "/app", expect=401)
    installs = await s.app("GET", "/app/installations", expect=200)
    inst_id = installs.body[0]["id"]
    await s.app("GET", f"/app/installations/{inst_id}", expect=200)
    await s.app("GET", "/app/installations/999999999", expect=404)
    await s.app("POST", f"/app/installations/{inst_id}/access_tokens", expect=201)
    await s.app(
        "POST", f"/app/installations/{inst_id}/access_tokens", {"permissions": {"administration": "write"}}, expect=422
    )
    await s.app("POST", "/app/installations/999999999/access_tokens", expect=404)
    await s.app("GET", "/repos/acme/app/installation", expect=200)
    await s.app("GET", "/orgs/acme/installation", expect=200)
    await s.app("GET", "/users/alice/installation", expect=200)
    await s.app("GET", "/users/nobody-at-all/installation", expect=404)
    await s.bot("acme", "GET", "/installation/repositories", expect=200)
    await s.user("alice", "GET", "/installation/repositories", expect=403)
    await s.user("alice", "GET", "/rate_limit", expect=200)
    await s.bot("acme", "GET", "/rate_limit", expect=200)


async def drive_deliveries(s: Scenario) -> None:
    await s.world.settle()
    listed = await s.app("GET", "/app/hook/deliveries?per_page=2", expect=200)
    await s.app("GET", "/app/hook/deliveries?cursor=nonsense", expect=400)
    await s.app("GET", "/app/hook/deliveries?status=maybe", expect=422)
    first = listed.body[0]["id"]
    await s.app("GET", f"/app/hook/deliveries/{first}", expect=200)
    await s.app("GET", "/app/hook/deliveries/999999999", expect=404)
    await s.app("POST", f"/app/hook/deliveries/{first}/attempts", expect=202)
    await s.app("POST", "/app/hook/deliveries/999999999/attempts", expect=404)
    await s.world.settle()


async def drive_repos(s: Scenario) -> dict[str, str]:
    await s.user(
        "alice", "POST", "/orgs/acme/repos", {"name": "app", "auto_init": True, "description": "the app"}, expect=201
    )
    await s.user("alice", "POST", "/orgs/acme/repos", {"name": "app"}, expect=422)
    await s.user("alice", "POST", "/user/repos", {"name": "solo", "auto_init": True}, expect=201)
    await s.user("alice", "POST", "/user/repos", {}, expect=422)
    await s.user("alice", "GET", "/repos/acme/app", expect=200)
    await s.user("alice", "PATCH", "/repos/acme/app", {"description": "the app, described"}, expect=200)
    await s.user("carol", "PATCH", "/repos/acme/app", {"description": "not mine"}, expect=(403, 404))
    put = await s.user(
        "alice",
        "PUT",
        "/repos/acme/app/contents/docs/notes.md",
        {"message": "Add notes", "content": b64("one\n")},
        expect=201,
    )
    await s.user(
        "alice",
        "PUT",
        "/repos/acme/app/contents/docs/notes.md",
        {"message": "no sha", "content": b64("two\n")},
        expect=(409, 422),
    )
    updated = await s.user(
        "alice",
        "PUT",
        "/repos/acme/app/contents/docs/notes.md",
        {"message": "Update notes", "content": b64("two\n"), "sha": put.body["content"]["sha"]},
        expect=200,
    )
    await s.user("alice", "GET", "/repos/acme/app/contents/docs/notes.md", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/contents/docs", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/contents/missing.md", expect=404)
    await s.user(
        "alice", "PUT", "/repos/acme/app/contents/gone.md", {"message": "Add gone", "content": b64("bye\n")}, expect=201
    )
    gone = await s.user("alice", "GET", "/repos/acme/app/contents/gone.md", expect=200)
    await s.user(
        "alice",
        "DELETE",
        "/repos/acme/app/contents/gone.md",
        {"message": "Remove gone", "sha": gone.body["sha"]},
        expect=200,
    )
    await s.user(
        "alice", "DELETE", "/repos/acme/app/contents/gone.md", {"message": "again", "sha": gone.body["sha"]}, expect=404
    )
    main_sha = updated.body["commit"]["sha"]
    await s.user("alice", "GET", "/repos/acme/app/commits", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/commits/main", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/commits/no-such-ref", expect=(404, 422))
    await s.user("alice", "GET", "/repos/acme/app/branches", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/branches/main", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/branches/nope", expect=404)
    await s.user("alice", "GET", "/repos/acme/app/activity?ref=main&activity_type=push&per_page=1", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/activity?direction=sideways", expect=422)
    return {"main": main_sha}


async def drive_git_data(s: Scenario, shas: dict[str, str]) -> None:
    blob = await s.user(
        "alice", "POST", "/repos/acme/app/git/blobs", {"content": "feature\n", "encoding": "utf-8"}, expect=201
    )
    await s.user("alice", "GET", f"/repos/acme/app/git/blobs/{blob.body['sha']}", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/git/blobs/" + "0" * 40, expect=404)
    base = await s.user("alice", "GET", f"/repos/acme/app/git/commits/{shas['main']}", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/git/commits/" + "0" * 40, expect=404)
    tree = await s.user(
        "alice",
        "POST",
        "/repos/acme/app/git/trees",
        {
            "base_tree": base.body["tree"]["sha"],
            "tree": [{"path": "feature.txt", "mode": "100644", "type": "blob", "sha": blob.body["sha"]}],
        },
        expect=201,
    )
    await s.user(
        "alice",
        "POST",
        "/repos/acme/app/git/trees",
        {"tree": [{"path": "x", "mode": "100644", "type": "blob", "sha": "0" * 40}]},
        expect=(404, 422),
    )
    await s.user("alice", "GET", f"/repos/acme/app/git/trees/{tree.body['sha']}?recursive=1", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/git/trees/" + "0" * 40, expect=404)
    commit = await s.user(
        "alice",
        "POST",
        "/repos/acme/app/git/commits",
        {"message": "Add feature", "tree": tree.body["sha"], "parents": [shas["main"]]},
        expect=201,
    )
    await s.user(
        "alice",
        "POST",
        "/repos/acme/app/git/commits",
        {"message": "bad", "tree": "0" * 40, "parents": []},
        expect=(404, 422),
    )
    await s.user(
        "alice",
        "POST",
        "/repos/acme/app/git/refs",
        {"ref": "refs/heads/feature", "sha": commit.body["sha"]},
        expect=201,
    )
    await s.user(
        "alice",
        "POST",
        "/repos/acme/app/git/refs",
        {"ref": "refs/heads/feature", "sha": commit.body["sha"]},
        expect=422,
    )
    await s.user(
        "alice", "POST", "/repos/acme/app/git/refs", {"ref": "refs/heads/scratch", "sha": shas["main"]}, expect=201
    )
    await s.user("alice", "GET", "/repos/acme/app/git/ref/heads/feature", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/git/ref/heads/none", expect=404)
    await s.user("alice", "GET", "/repos/acme/app/git/matching-refs/heads/", expect=200)
    await s.user("alice", "PATCH", "/repos/acme/app/git/refs/heads/scratch", {"sha": commit.body["sha"]}, expect=200)
    await s.user(
        "alice", "PATCH", "/repos/acme/app/git/refs/heads/scratch", {"sha": shas["main"]}, expect=422
    )  # not a fast-forward
    await s.user(
        "alice", "PATCH", "/repos/acme/app/git/refs/heads/scratch", {"sha": shas["main"], "force": True}, expect=200
    )
    await s.user("alice", "DELETE", "/repos/acme/app/git/refs/heads/scratch", expect=204)
    await s.user("alice", "DELETE", "/repos/acme/app/git/refs/heads/scratch", expect=422)
    tag = await s.user(
        "alice",
        "POST",
        "/repos/acme/app/git/tags",
        {
            "tag": "v0.1.0",
            "message": "First",
            "object": shas["main"],
            "type": "commit",
            "tagger": {"name": "Alice", "email": "alice@example.com", "date": "2026-01-01T00:00:00Z"},
        },
        expect=201,
    )
    await s.user(
        "alice",
        "POST",
        "/repos/acme/app/git/tags",
        {"tag": "v0.2.0", "message": "bad", "object": "0" * 40, "type": "commit"},
        expect=(404, 422),
    )
    await s.user("alice", "GET", f"/repos/acme/app/git/tags/{tag.body['sha']}", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/git/tags/" + "0" * 40, expect=404)
    shas["feature"] = commit.body["sha"]
    await s.user("alice", "GET", "/repos/acme/app/compare/main...feature", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/compare/main...nowhere", expect=404)


async def drive_pulls_and_merges(s: Scenario, shas: dict[str, str]) -> None:
    pr = await s.user(
        "alice",
        "POST",
        "/repos/acme/app/pulls",
        {"title": "Add feature", "head": "feature", "base": "main", "body": "Adds it"},
        expect=201,
    )
    number = pr.body["number"]
    await s.user(
        "alice", "POST", "/repos/acme/app/pulls", {"title": "Again", "head": "feature", "base": "main"}, expect=422
    )
    await s.user("alice", "GET", "/repos/acme/app/pulls?state=open&base=main", expect=200)
    await s.user("alice", "GET", f"/repos/acme/app/pulls/{number}", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/pulls/999", expect=404)
    await s.user(
        "alice",
        "PATCH",
        f"/repos/acme/app/pulls/{number}",
        {"title": "Add the feature", "body": "Adds it, really"},
        expect=200,
    )
    await s.user("alice", "PATCH", f"/repos/acme/app/pulls/{number}", {"state": "sideways"}, expect=422)
    await s.user("alice", "GET", f"/repos/acme/app/pulls/{number}/commits", expect=200)
    await s.user("alice", "GET", f"/repos/acme/app/pulls/{number}/files", expect=200)
    await s.user("alice", "GET", f"/repos/acme/app/pulls/{number}/merge", expect=404)
    await s.user("alice", "GET", f"/repos/acme/app/commits/{shas['feature']}/pulls", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/commits/" + "0" * 40 + "/pulls", expect=(404, 422))
    # "Update branch": a stale head refused, main merged into feature, then nothing left to bring in
    update = f"/repos/acme/app/pulls/{number}/update-branch"
    await s.user("alice", "PUT", update, {"expected_head_sha": "0" * 40}, expect=422)
    await s.user(
        "alice",
        "PUT",
        "/repos/acme/app/contents/update-me.txt",
        {"message": "Main moves on", "content": "dXBkYXRl", "branch": "main"},
        expect=201,
    )
    await s.user("alice", "PUT", update, {"expected_head_sha": shas["feature"]}, expect=202)
    await s.user("alice", "PUT", update, {}, expect=422)
    await s.user(
        "alice", "PUT", f"/repos/acme/app/pulls/{number}/merge", {"merge_method": "squash", "sha": "0" * 40}, expect=409
    )
    await s.user("alice", "PUT", f"/repos/acme/app/pulls/{number}/merge", {"merge_method": "squash"}, expect=200)
    await s.user("alice", "PUT", f"/repos/acme/app/pulls/{number}/merge", {"merge_method": "squash"}, expect=405)
    await s.user("alice", "GET", f"/repos/acme/app/pulls/{number}/merge", expect=204)
    # merges: a real merge, an up-to-date no-op, and a conflict
    await s.user(
        "alice",
        "PUT",
        "/repos/acme/app/contents/conflict.txt",
        {"message": "main side", "content": b64("main\n")},
        expect=201,
    )
    await s.user(
        "alice",
        "POST",
        "/repos/acme/app/merges",
        {"base": "feature", "head": "main", "commit_message": "Sync"},
        expect=201,
    )
    await s.user("alice", "POST", "/repos/acme/app/merges", {"base": "feature", "head": "main"}, expect=204)
    await s.user(
        "alice",
        "PUT",
        "/repos/acme/app/contents/conflict.txt",
        {
            "message": "feature side",
            "content": b64("feature\n"),
            "branch": "feature",
            "sha": (await s.user("alice", "GET", "/repos/acme/app/contents/conflict.txt?ref=feature", expect=200)).body[
                "sha"
            ],
        },
        expect=200,
    )
    main_file = await s.user("alice", "GET", "/repos/acme/app/contents/conflict.txt", expect=200)
    await s.user(
        "alice",
        "PUT",
        "/repos/acme/app/contents/conflict.txt",
        {"message": "main again", "content": b64("other\n"), "sha": main_file.body["sha"]},
        expect=200,
    )
    await s.user("alice", "POST", "/repos/acme/app/merges", {"base": "feature", "head": "main"}, expect=409)
    await s.user("alice", "POST", "/repos/acme/app/merges", {"base": "feature", "head": "nowhere"}, expect=404)


async def drive_issues(s: Scenario) -> None:
    await s.user(
        "alice",
        "POST",
        "/repos/acme/app/labels",
        {"name": "qa/verified", "color": "0e8a16", "description": "QA checked it"},
        expect=201,
    )
    await s.user("alice", "POST", "/repos/acme/app/labels", {"name": "qa/verified", "color": "0e8a16"}, expect=422)
    await s.user("alice", "GET", "/repos/acme/app/labels", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/labels/qa/verified", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/labels/none", expect=404)
    await s.user("alice", "POST", "/repos/acme/app/labels", {"name": "stale", "color": "cccccc"}, expect=201)
    await s.user("alice", "PATCH", "/repos/acme/app/labels/stale", {"new_name": "old", "color": "BADA55"}, expect=200)
    await s.user("alice", "PATCH", "/repos/acme/app/labels/old", {"new_name": "bug"}, expect=422)
    await s.user("alice", "DELETE", "/repos/acme/app/labels/old", expect=204)
    await s.user("alice", "DELETE", "/repos/acme/app/labels/old", expect=404)
    issue = await s.user(
        "alice",
        "POST",
        "/repos/acme/app/issues",
        {"title": "It breaks", "body": "Steps", "labels": ["bug"]},
        expect=201,
    )
    number = issue.body["number"]
    await s.user("alice", "POST", "/repos/acme/app/issues", {"body": "no title"}, expect=422)
    await s.user("alice", "GET", "/repos/acme/app/issues?state=all&labels=bug", expect=200)
    await s.user("alice", "GET", f"/repos/acme/app/issues/{number}", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/issues/999", expect=404)
    await s.user(
        "alice",
        "PATCH",
        f"/repos/acme/app/issues/{number}",
        {"title": "It breaks badly", "body": "More steps"},
        expect=200,
    )
    await s.user("alice", "PATCH", f"/repos/acme/app/issues/{number}", {"state": "sideways"}, expect=422)
    await s.user("alice", "POST", f"/repos/acme/app/issues/{number}/labels", {"labels": ["qa/verified"]}, expect=200)
    await s.user("alice", "POST", "/repos/acme/app/issues/999/labels", {"labels": ["bug"]}, expect=404)
    await s.user("alice", "GET", f"/repos/acme/app/issues/{number}/labels", expect=200)
    await s.user("alice", "DELETE", f"/repos/acme/app/issues/{number}/labels/qa/verified", expect=200)
    await s.user("alice", "DELETE", f"/repos/acme/app/issues/{number}/labels/qa/verified", expect=404)
    await s.user(
        "alice", "PUT", f"/repos/acme/app/issues/{number}/labels", {"labels": ["bug", "qa/verified"]}, expect=200
    )
    await s.user("alice", "PUT", "/repos/acme/app/issues/999/labels", {"labels": ["bug"]}, expect=404)
    await s.user("alice", "GET", "/repos/acme/app/issues/999/labels", expect=404)
    await s.user("alice", "DELETE", "/repos/acme/app/issues/999/labels", expect=404)
    await s.user("alice", "DELETE", f"/repos/acme/app/issues/{number}/labels", expect=204)
    comment = await s.user(
        "alice", "POST", f"/repos/acme/app/issues/{number}/comments", {"body": "/cut-rc 1.5"}, expect=201
    )
    await s.user("alice", "POST", f"/repos/acme/app/issues/{number}/comments", {}, expect=422)
    await s.user("alice", "GET", f"/repos/acme/app/issues/{number}/comments", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/issues/comments", expect=200)
    cid = comment.body["id"]
    await s.user("alice", "GET", f"/repos/acme/app/issues/comments/{cid}", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/issues/comments/999999999", expect=404)
    await s.user("alice", "PATCH", f"/repos/acme/app/issues/comments/{cid}", {"body": "/cut-rc 1.6"}, expect=200)
    await s.user("alice", "PATCH", f"/repos/acme/app/issues/comments/{cid}", {}, expect=422)
    reaction = await s.bot(
        "acme", "POST", f"/repos/acme/app/issues/comments/{cid}/reactions", {"content": "eyes"}, expect=201
    )
    await s.bot(
        "acme", "POST", f"/repos/acme/app/issues/comments/{cid}/reactions", {"content": "party-parrot"}, expect=422
    )
    await s.user("alice", "GET", f"/repos/acme/app/issues/comments/{cid}/reactions", expect=200)
    await s.bot("acme", "DELETE", f"/repos/acme/app/issues/comments/{cid}/reactions/{reaction.body['id']}", expect=204)
    await s.bot("acme", "DELETE", f"/repos/acme/app/issues/comments/{cid}/reactions/999999999", expect=404)
    await s.user("alice", "GET", f"/repos/acme/app/issues/{number}/events", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/issues/999/events", expect=404)
    doomed = await s.user(
        "alice", "POST", f"/repos/acme/app/issues/{number}/comments", {"body": "to delete"}, expect=201
    )
    await s.user("alice", "DELETE", f"/repos/acme/app/issues/comments/{doomed.body['id']}", expect=204)
    await s.user("alice", "DELETE", f"/repos/acme/app/issues/comments/{doomed.body['id']}", expect=404)
    milestone = await s.user(
        "alice",
        "POST",
        "/repos/acme/app/milestones",
        {"title": "Release 1.5", "due_on": "2030-01-01T00:00:00Z"},
        expect=201,
    )
    await s.user("alice", "POST", "/repos/acme/app/milestones", {"title": "Release 1.5"}, expect=422)
    await s.user("alice", "GET", "/repos/acme/app/milestones?state=all", expect=200)
    await s.user("alice", "GET", f"/repos/acme/app/milestones/{milestone.body['number']}", expect=200)
    await s.user(
        "alice", "PATCH", f"/repos/acme/app/issues/{number}", {"milestone": milestone.body["number"]}, expect=200
    )
    await s.user("alice", "PATCH", f"/repos/acme/app/issues/{number}", {"milestone": None}, expect=200)
    await s.user(
        "alice",
        "PATCH",
        f"/repos/acme/app/issues/{number}",
        {"state": "closed", "state_reason": "completed"},
        expect=200,
    )
    await s.user("alice", "PATCH", f"/repos/acme/app/issues/{number}", {"state": "open"}, expect=200)


async def drive_people(s: Scenario) -> None:
    await s.user("alice", "POST", "/orgs/acme/teams", {"name": "QA"}, expect=201)
    await s.user("alice", "POST", "/orgs/acme/teams", {}, expect=422)
    await s.user("alice", "GET", "/orgs/acme/teams", expect=200)
    await s.user("alice", "GET", "/orgs/acme/teams/qa", expect=200)
    await s.user("alice", "GET", "/orgs/acme/teams/nobody", expect=404)
    await s.user("alice", "PUT", "/orgs/acme/teams/qa/memberships/bob", {"role": "member"}, expect=200)
    await s.user("alice", "PUT", "/orgs/acme/teams/qa/memberships/bob", {"role": "boss"}, expect=422)
    await s.bot("acme", "GET", "/orgs/acme/teams/qa/memberships/bob", expect=200)
    await s.bot("acme", "GET", "/orgs/acme/teams/qa/memberships/dave", expect=404)
    await s.user("alice", "PUT", "/orgs/acme/teams/qa/repos/acme/app", {"permission": "push"}, expect=204)
    await s.user("alice", "PUT", "/orgs/acme/teams/qa/repos/acme/none", {"permission": "push"}, expect=(404, 422))
    await s.bot("acme", "GET", "/orgs/acme/teams/qa/repos/acme/app", expect=204)
    await s.user(
        "alice",
        "GET",
        "/orgs/acme/teams/qa/repos/acme/app",
        expect=200,
        Accept="application/vnd.github.v3.repository+json",
    )
    await s.user("alice", "DELETE", "/orgs/acme/teams/qa/memberships/bob", expect=204)
    await s.user("alice", "PUT", "/repos/acme/app/collaborators/carol", {"permission": "push"}, expect=(201, 204))
    await s.user("bob", "PUT", "/repos/acme/app/collaborators/dave", {"permission": "push"}, expect=(403, 404))
    await s.user("alice", "GET", "/repos/acme/app/collaborators/carol", expect=204)
    await s.user("alice", "GET", "/repos/acme/app/collaborators/dave", expect=404)
    await s.bot("acme", "GET", "/repos/acme/app/collaborators/carol/permission", expect=200)
    await s.user("alice", "GET", "/repos/acme/none/collaborators/carol/permission", expect=404)
    await s.user("alice", "DELETE", "/repos/acme/app/collaborators/carol", expect=204)


async def drive_pull_request_life(s: Scenario) -> None:
    """A second PR that is labeled, unlabeled, pushed to, closed and reopened (each one a webhook)."""
    main = await s.user("alice", "GET", "/repos/acme/app/git/ref/heads/main", expect=200)
    await s.user(
        "alice",
        "POST",
        "/repos/acme/app/git/refs",
        {"ref": "refs/heads/fr/FR-7-login", "sha": main.body["object"]["sha"]},
        expect=201,
    )
    await s.user(
        "alice",
        "PUT",
        "/repos/acme/app/contents/login.txt",
        {"message": "Login", "content": b64("login\n"), "branch": "fr/FR-7-login"},
        expect=201,
    )
    pr = await s.user(
        "alice",
        "POST",
        "/repos/acme/app/pulls",
        {"title": "Login", "head": "fr/FR-7-login", "base": "main"},
        expect=201,
    )
    number = pr.body["number"]
    await s.user("alice", "POST", f"/repos/acme/app/issues/{number}/labels", {"labels": ["qa/verified"]}, expect=200)
    await s.user("alice", "DELETE", f"/repos/acme/app/issues/{number}/labels/qa/verified", expect=200)
    await s.user(
        "alice",
        "PUT",
        "/repos/acme/app/contents/login2.txt",
        {"message": "More login", "content": b64("more\n"), "branch": "fr/FR-7-login"},
        expect=201,
    )
    await s.user("alice", "PATCH", f"/repos/acme/app/pulls/{number}", {"state": "closed"}, expect=200)
    await s.user("alice", "PATCH", f"/repos/acme/app/pulls/{number}", {"state": "open"}, expect=200)


async def drive_checks_and_statuses(s: Scenario) -> None:
    sha = (await s.user("alice", "GET", "/repos/acme/app/commits/main", expect=200)).body["sha"]
    await s.user(
        "alice",
        "POST",
        f"/repos/acme/app/statuses/{sha}",
        {"state": "success", "context": "sanity", "description": "ok", "target_url": "https://ci.example/1"},
        expect=201,
    )
    await s.user(
        "alice", "POST", f"/repos/acme/app/statuses/{sha}", {"state": "grand", "context": "sanity"}, expect=422
    )
    await s.bot(
        "acme", "POST", f"/repos/acme/app/statuses/{sha}", {"state": "success", "context": "bot"}, expect=403
    )  # app.yml: statuses read
    await s.bot("acme", "GET", "/repos/acme/app/commits/main/status", expect=200)
    await s.bot("acme", "GET", "/repos/acme/app/commits/no-such-ref/status", expect=(404, 422))
    await s.bot("acme", "GET", f"/repos/acme/app/commits/{sha}/statuses", expect=200)
    run = await s.bot(
        "acme",
        "POST",
        "/repos/acme/app/check-runs",
        {
            "name": "release-train/gate",
            "head_sha": sha,
            "status": "in_progress",
            "output": {"title": "Waiting", "summary": "Checks are running"},
        },
        expect=201,
    )
    await s.bot("acme", "POST", "/repos/acme/app/check-runs", {"name": "no sha"}, expect=422)
    await s.user("alice", "POST", "/repos/acme/app/check-runs", {"name": "people cannot", "head_sha": sha}, expect=403)
    run_id = run.body["id"]
    await s.bot("acme", "GET", f"/repos/acme/app/check-runs/{run_id}", expect=200)
    await s.bot("acme", "GET", "/repos/acme/app/check-runs/999999999", expect=404)
    annotation = {
        "path": "README.md",
        "start_line": 1,
        "end_line": 1,
        "annotation_level": "failure",
        "message": "Gate closed",
    }
    await s.bot(
        "acme",
        "PATCH",
        f"/repos/acme/app/check-runs/{run_id}",
        {
            "status": "completed",
            "conclusion": "failure",
            "output": {"title": "Closed", "summary": "One check failed", "annotations": [annotation]},
        },
        expect=200,
    )
    await s.bot("acme", "PATCH", f"/repos/acme/app/check-runs/{run_id}", {"conclusion": "splendid"}, expect=422)
    await s.bot("acme", "GET", f"/repos/acme/app/check-runs/{run_id}/annotations", expect=200)
    await s.bot("acme", "GET", "/repos/acme/app/check-runs/999999999/annotations", expect=404)
    await s.bot("acme", "GET", "/repos/acme/app/commits/main/check-runs?check_name=release-train/gate", expect=200)
    suites = await s.bot("acme", "GET", "/repos/acme/app/commits/main/check-suites", expect=200)
    await s.bot("acme", "GET", f"/repos/acme/app/check-suites/{suites.body['check_suites'][0]['id']}", expect=200)
    await s.bot("acme", "GET", "/repos/acme/app/check-suites/999999999", expect=404)


async def drive_releases_and_dispatches(s: Scenario) -> None:
    workflow = (
        "name: Build images\non:\n  workflow_dispatch:\n    inputs:\n      version:\n        required: true\njobs: {}\n"
    )
    await s.user(
        "alice",
        "PUT",
        "/repos/acme/app/contents/.github/workflows/build-images.yml",
        {"message": "Add the image build", "content": b64(workflow)},
        expect=201,
    )
    await s.bot(
        "acme",
        "POST",
        "/repos/acme/app/actions/workflows/build-images.yml/dispatches",
        {"ref": "main", "inputs": {"version": "1.5"}},
        expect=204,
    )
    await s.bot("acme", "POST", "/repos/acme/app/actions/workflows/missing.yml/dispatches", {"ref": "main"}, expect=404)
    await s.bot("acme", "GET", "/repos/acme/app/actions/runs", expect=200)
    await s.bot(
        "acme",
        "POST",
        "/repos/acme/app/dispatches",
        {"event_type": "release-train", "client_payload": {"version": "1.5"}},
        expect=204,
    )
    await s.bot("acme", "POST", "/repos/acme/app/dispatches", {}, expect=422)
    await s.bot(
        "acme",
        "POST",
        "/repos/acme/app/releases/generate-notes",
        {"tag_name": "v1.5.0", "target_commitish": "main"},
        expect=200,
    )
    await s.bot("acme", "POST", "/repos/acme/app/releases/generate-notes", {}, expect=422)
    release = await s.bot(
        "acme",
        "POST",
        "/repos/acme/app/releases",
        {"tag_name": "v1.5.0", "target_commitish": "main", "name": "v1.5.0", "body": "Notes"},
        expect=201,
    )
    await s.bot(
        "acme", "POST", "/repos/acme/app/releases", {"tag_name": "v1.5.0", "target_commitish": "main"}, expect=422
    )
    await s.bot("acme", "GET", "/repos/acme/app/releases", expect=200)
    await s.bot("acme", "GET", "/repos/acme/app/releases/latest", expect=200)
    await s.bot("acme", "GET", "/repos/acme/app/releases/tags/v1.5.0", expect=200)
    await s.bot("acme", "GET", "/repos/acme/app/releases/tags/v9.9.9", expect=404)
    await s.bot("acme", "GET", f"/repos/acme/app/releases/{release.body['id']}", expect=200)
    await s.bot(
        "acme", "PATCH", f"/repos/acme/app/releases/{release.body['id']}", {"body": "Notes, edited"}, expect=200
    )
    await s.bot("acme", "PATCH", "/repos/acme/app/releases/999999999", {"body": "none"}, expect=404)
    deployed = await s.bot(
        "acme",
        "POST",
        "/repos/acme/app/deployments",
        {"ref": "v1.5.0", "environment": "production", "auto_merge": False, "required_contexts": []},
        expect=201,
    )
    await s.bot(
        "acme",
        "POST",
        "/repos/acme/app/deployments",
        {"ref": "no-such-ref", "environment": "production"},
        expect=(404, 409, 422),
    )
    await s.bot("acme", "GET", "/repos/acme/app/deployments?environment=production", expect=200)
    deployment = f"/repos/acme/app/deployments/{deployed.body['id']}"
    await s.bot("acme", "GET", deployment, expect=200)
    status = await s.bot(
        "acme",
        "POST",
        f"{deployment}/statuses",
        {"state": "success", "environment_url": "https://app.example.com", "description": "Deployed"},
        expect=201,
    )
    await s.bot("acme", "POST", f"{deployment}/statuses", {"state": "splendid"}, expect=422)
    await s.bot("acme", "GET", f"{deployment}/statuses", expect=200)
    await s.bot("acme", "GET", f"{deployment}/statuses/{status.body['id']}", expect=200)


async def drive_protection(s: Scenario) -> None:
    """Classic branch protection on a branch of its own: set, read, enforced (a refused merge and push), removed."""
    main = await s.user("alice", "GET", "/repos/acme/app/git/ref/heads/main", expect=200)
    sha = main.body["object"]["sha"]
    await s.user("alice", "POST", "/repos/acme/app/git/refs", {"ref": "refs/heads/guarded", "sha": sha}, expect=201)
    path = "/repos/acme/app/branches/guarded/protection"
    await s.user("alice", "GET", path, expect=404)
    body = {
        "required_status_checks": {"strict": True, "checks": [{"context": "ci/test", "app_id": -1}]},
        "enforce_admins": True,
        "required_pull_request_reviews": {
            "required_approving_review_count": 0,
            "bypass_pull_request_allowances": {"users": [], "teams": [], "apps": ["release-train"]},
        },
        "restrictions": {"users": ["alice"], "teams": [], "apps": ["release-train"]},
    }
    await s.user("carol", "PUT", path, body, expect=404)
    await s.user("alice", "PUT", path, {**body, "restrictions": {"users": []}}, expect=422)
    await s.user("alice", "PUT", path, body, expect=200)
    await s.user(
        "alice", "PUT", path, {**body, "required_status_checks": {"strict": False, "contexts": ["ci/test"]}}, expect=200
    )
    await s.user("alice", "GET", path, expect=200)
    await s.user("alice", "GET", "/repos/acme/app/branches/guarded", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/branches?protected=true", expect=200)
    await s.bot("acme", "GET", path, expect=403)
    await s.user("alice", "PATCH", "/repos/acme/app/git/refs/heads/guarded", {"sha": sha, "force": True}, expect=200)
    await s.user("alice", "DELETE", "/repos/acme/app/git/refs/heads/guarded", expect=422)
    await s.user("alice", "DELETE", path, expect=204)
    await s.user("alice", "DELETE", path, expect=404)


async def drive_rulesets(s: Scenario) -> None:
    """A branch ruleset and a tag ruleset: made, read, enforced (a refused push and tag), changed, removed."""
    app_id = s.world.sandbox.config.app_id
    branch_rules = {
        "name": "rc branches",
        "target": "branch",
        "enforcement": "active",
        "conditions": {"ref_name": {"include": ["refs/heads/rc/*"], "exclude": []}},
        "rules": [
            {"type": "deletion"},
            {"type": "non_fast_forward"},
            {
                "type": "pull_request",
                "parameters": {
                    "dismiss_stale_reviews_on_push": False,
                    "require_code_owner_review": False,
                    "require_last_push_approval": False,
                    "required_approving_review_count": 0,
                    "required_review_thread_resolution": False,
                },
            },
            {
                "type": "required_status_checks",
                "parameters": {
                    "strict_required_status_checks_policy": False,
                    "required_status_checks": [{"context": "release-train/merge-rules", "integration_id": app_id}],
                },
            },
        ],
        "bypass_actors": [{"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "pull_request"}],
    }
    made = await s.user("alice", "POST", "/repos/acme/app/rulesets", branch_rules, expect=201)
    await s.user("alice", "POST", "/repos/acme/app/rulesets", branch_rules, expect=422)
    await s.user("carol", "POST", "/repos/acme/app/rulesets", {**branch_rules, "name": "mine"}, expect=404)
    tags = {
        "name": "release tags",
        "target": "tag",
        "enforcement": "active",
        "conditions": {"ref_name": {"include": ["refs/tags/v*"], "exclude": []}},
        "rules": [{"type": "creation"}, {"type": "update"}, {"type": "deletion"}],
        "bypass_actors": [{"actor_id": app_id, "actor_type": "Integration", "bypass_mode": "always"}],
    }
    tag_set = await s.user("alice", "POST", "/repos/acme/app/rulesets", tags, expect=201)
    await s.user("carol", "GET", "/repos/acme/app/rulesets", expect=200)
    await s.bot("acme", "GET", f"/repos/acme/app/rulesets/{made.body['id']}", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/rulesets/999999999", expect=404)
    await s.bot("acme", "GET", "/repos/acme/app/rules/branches/rc/9.9", expect=200)
    main = await s.user("alice", "GET", "/repos/acme/app/git/ref/heads/main", expect=200)
    await s.user(
        "alice",
        "POST",
        "/repos/acme/app/git/refs",
        {"ref": "refs/tags/v9.9.0", "sha": main.body["object"]["sha"]},
        expect=422,
    )
    await s.user("alice", "PUT", f"/repos/acme/app/rulesets/{made.body['id']}", {"enforcement": "disabled"}, expect=200)
    await s.user(
        "alice", "PUT", f"/repos/acme/app/rulesets/{made.body['id']}", {"enforcement": "sometimes"}, expect=422
    )
    for ruleset in (made, tag_set):
        await s.user("alice", "DELETE", f"/repos/acme/app/rulesets/{ruleset.body['id']}", expect=204)
    await s.user("alice", "DELETE", f"/repos/acme/app/rulesets/{made.body['id']}", expect=404)


async def drive_environments(s: Scenario) -> None:
    """An environment with the app's custom deployment protection rule, a deployment job it gates, and its answer."""
    app_id = s.world.sandbox.config.app_id
    env = "/repos/acme/app/environments/production"
    await s.user("carol", "PUT", env, {}, expect=404)
    await s.user("alice", "PUT", env, {"wait_timer": 0, "deployment_branch_policy": None}, expect=200)
    await s.user("alice", "PUT", env, {"wait_timer": -1}, expect=422)
    await s.bot("acme", "GET", "/repos/acme/app/environments", expect=200)
    await s.bot("acme", "GET", env, expect=200)
    await s.bot("acme", "GET", "/repos/acme/app/environments/nowhere", expect=404)
    await s.user("alice", "GET", f"{env}/deployment_protection_rules/apps", expect=200)
    await s.user("alice", "GET", "/repos/acme/app/environments/nowhere/deployment_protection_rules/apps", expect=404)
    rule = await s.user("alice", "POST", f"{env}/deployment_protection_rules", {"integration_id": app_id}, expect=201)
    await s.user("alice", "POST", f"{env}/deployment_protection_rules", {"integration_id": app_id}, expect=422)
    await s.bot("acme", "GET", f"{env}/deployment_protection_rules", expect=200)
    await s.bot("acme", "GET", "/repos/acme/app/environments/nowhere/deployment_protection_rules", expect=404)
    await s.bot("acme", "GET", f"{env}/deployment_protection_rules/{rule.body['id']}", expect=200)
    await s.bot("acme", "GET", f"{env}/deployment_protection_rules/999999999", expect=404)
    job = await s.world.call(
        None, "POST", "/_sandbox/actions/acme/app/deployments", {"environment": "production", "ref": "main"}
    )
    assert job.status == 201, job.body
    run_id = job.body["run"]["id"]
    await s.world.settle()
    review = f"/repos/acme/app/actions/runs/{run_id}/deployment_protection_rule"
    await s.user("alice", "POST", review, {"environment_name": "production", "state": "approved"}, expect=403)
    await s.bot(
        "acme", "POST", review, {"environment_name": "production", "state": "approved", "comment": "ok"}, expect=204
    )
    await s.bot("acme", "POST", review, {"environment_name": "production", "state": "approved"}, expect=422)
    await s.bot("acme", "GET", f"/repos/acme/app/actions/runs/{run_id}", expect=200)
    await s.bot("acme", "GET", "/repos/acme/app/actions/runs/999999999", expect=404)
    deployment_id = job.body["deployment"]["id"]
    await s.bot("acme", "GET", f"/repos/acme/app/deployments/{deployment_id}/statuses", expect=200)
    await s.bot("acme", "GET", "/repos/acme/app/deployments/999999999/statuses", expect=404)
    await s.user("alice", "DELETE", f"{env}/deployment_protection_rules/{rule.body['id']}", expect=204)
    await s.user("alice", "DELETE", f"{env}/deployment_protection_rules/{rule.body['id']}", expect=404)
    await s.user("alice", "PUT", "/repos/acme/app/environments/staging", {}, expect=200)
    await s.user("alice", "DELETE", "/repos/acme/app/environments/staging", expect=204)
    await s.user("alice", "DELETE", "/repos/acme/app/environments/staging", expect=404)


def fill(template: str) -> str:
    """A path for a route with every parameter naming something that does not exist."""
    values = {"owner": "nobody", "repo": "nothing", "org": "no-such-org", "username": "no-such-user"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "999999"), template)


async def drive_manifest_flow(s: Scenario) -> None:
    """Register the app from its manifest through the web pages, then convert the code (once) as the setup page does."""
    manifest = yaml.safe_load(s.world.sandbox.config.manifest_path.read_text())
    manifest.update(
        {
            "hook_attributes": {"url": s.world.sandbox.config.webhook_url},
            "redirect_url": "http://127.0.0.1:9/callback",
            "default_events": sorted(s.world.sandbox.config.events),
        }
    )
    form = {"manifest": json.dumps(manifest), "confirm": "create", "name": "Release Train"}
    async with s.world.session.post(
        s.world.api_url + "/organizations/acme/settings/apps/new?state=st", data=form, allow_redirects=False
    ) as resp:
        assert resp.status == 302, await resp.text()
        code = re.search(r"code=(\w+)", resp.headers["Location"]).group(1)  # type: ignore[union-attr]
    created = await s.user(None, "POST", f"/app-manifests/{code}/conversions", expect=201)
    assert {"pem", "webhook_secret", "client_id", "client_secret"} <= set(created.body)
    await s.user(None, "POST", f"/app-manifests/{code}/conversions", expect=404)
    await s.app("GET", "/app", expect=200)  # the new app's key signs for it


# Sandbox convention: organisations, users and teams come into being on first use, so these
# routes are asked with a body GitHub refuses instead.
SWEEP_BODIES = {("PUT", "/orgs/{org}/teams/{team_slug}/memberships/{username}"): {"role": "boss"}}


async def drive_error_sweep(s: Scenario) -> None:
    """Every route, asked about things that do not exist: GitHub's error answers, whatever the operation."""
    for method, template in sorted(served_routes(s.world)):
        if template in ("/rate_limit",):
            continue
        body = SWEEP_BODIES.get((method, template), {} if method in ("POST", "PUT", "PATCH") else None)
        await s.user("alice", method, fill(template), body, expect=(400, 401, 403, 404, 422))


async def drive_everything(s: Scenario) -> None:
    shas = await drive_repos(s)
    await drive_apps(s)
    await drive_git_data(s, shas)
    await drive_pulls_and_merges(s, shas)
    await drive_issues(s)
    await drive_people(s)
    await drive_pull_request_life(s)
    await drive_checks_and_statuses(s)
    await drive_releases_and_dispatches(s)
    await drive_protection(s)
    await drive_rulesets(s)
    await drive_environments(s)
    await drive_deliveries(s)
    await drive_manifest_flow(s)
    await drive_error_sweep(s)
    await s.world.settle()


# Operations with no error a caller can provoke (GitHub documents one, but only for GHES setups).
NO_ERROR_PATH = {"GET /rate_limit"}


async def test_every_operation_answers_as_github_documents(played: Played) -> None:
    served = played.served
    seen = played.recorder.seen
    never = sorted(op for op in served if op and not any(200 <= status < 300 for status in seen.get(op, ())))
    no_error = sorted(
        op for op in served if op and op not in NO_ERROR_PATH and not any(status >= 400 for status in seen.get(op, ()))
    )
    problems = played.recorder.problems
    assert not problems, f"{len(problems)} answers do not fit GitHub's schemas:\n" + "\n".join(problems)
    assert not never, "operations never answered successfully in the scenario:\n" + "\n".join(never)
    assert not no_error, "operations whose error answers were never exercised:\n" + "\n".join(no_error)


# 3. every webhook carries GitHub's keys ----------------------------------------------------
def common_shape(a: Any, b: Any) -> Any:
    """The keys two example payloads share, at every depth (null on one side takes the other's shape)."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: common_shape(a[k], b[k]) for k in a if k in b}
    if isinstance(a, list) and isinstance(b, list):
        if a and b:
            return [common_shape(a[0], b[0])]
        return a or b
    return a


def github_shape(event: str, action: str | None) -> Any:
    """What GitHub always sends for this event and action: the keys common to its examples for that
    action, or to all of the event's examples when GitHub gives none for the action."""
    examples = REF.webhooks[event]["examples"]
    matching = [e for e in examples if e.get("action") == action] or examples
    shape = matching[0]
    for example in matching[1:]:
        shape = common_shape(shape, example)
    return shape


# Objects whose keys are data rather than shape: an app's granted permissions, dispatch inputs.
MAP_KEYS = {"permissions", "client_payload", "inputs"}


def missing_keys(expected: Any, actual: Any, where: str = "") -> list[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        if where.rsplit(".", 1)[-1] in MAP_KEYS:
            return []
        missing = []
        for key, value in expected.items():
            if key == "pull_request" and "/pull/" not in str(actual.get("html_url", "/pull/")):
                continue  # an issue carries `pull_request` only when it is a pull request
            if key not in actual:
                missing.append(f"{where}.{key}".lstrip("."))
            else:
                missing.extend(missing_keys(value, actual[key], f"{where}.{key}"))
        return missing
    if isinstance(expected, list) and isinstance(actual, list) and expected and actual:
        return missing_keys(expected[0], actual[0], f"{where}[0]")
    if isinstance(expected, dict) and actual is not None:
        return [f"{where.lstrip('.')}: GitHub sends an object, the sandbox {type(actual).__name__}"]
    return []


def test_key_comparison_sees_depth_and_lists() -> None:
    expected = {"a": {"b": 1, "c": [{"d": 1}]}, "e": None}
    assert missing_keys(expected, {"a": {"b": 2, "c": [{"d": 2}]}, "e": 1}) == []
    assert missing_keys(expected, {"a": {"c": [{}]}, "e": None}) == ["a.b", "a.c[0].d"]
    issue = {"issue": {"html_url": "x", "pull_request": {"url": "y"}}}
    assert missing_keys(issue, {"issue": {"html_url": "https://h/o/r/issues/1"}}) == []
    assert missing_keys(issue, {"issue": {"html_url": "https://h/o/r/pull/1"}}) == ["issue.pull_request"]
    assert common_shape({"x": 1, "y": {"z": 1, "w": 2}}, {"y": {"z": 3}, "v": 1}) == {"y": {"z": 1}}


async def test_every_webhook_carries_githubs_keys(played: Played) -> None:
    received = played.payloads
    never_sent = [f"{event} {action}" for event, action in SENT_EVENTS if not received.get((event, action))]
    gaps = []
    for (event, action), payloads in sorted(received.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        if event not in REF.webhooks:
            if (event, action) not in WEBHOOK_SCHEMAS:  # held to its x-webhooks schema instead
                gaps.append(f"{event}: no GitHub example vendored ({REFRESH})")
            continue
        shape = github_shape(event, action)
        # GitHub adds `organization` only for a repository an organization owns.
        user_shape = {k: v for k, v in shape.items() if k != "organization"} if isinstance(shape, dict) else shape
        missing = set()
        for payload in payloads:
            owned_by_user = (payload.get("repository") or {}).get("owner", {}).get("type") == "User"
            missing.update(missing_keys(user_shape if owned_by_user else shape, payload))
        for key in sorted(missing):
            gaps.append(f"{event}.{action}: {key}")
    assert not never_sent, "events the scenario never received:\n" + "\n".join(never_sent)
    assert not gaps, f"{len(gaps)} keys GitHub sends are missing:\n" + "\n".join(gaps)


async def test_events_without_an_example_fit_githubs_webhook_schema(played: Played) -> None:
    vendored = json.loads((REFERENCE / "openapi-webhooks.json").read_text())
    components = openapi_to_json_schema(reference_errata(vendored["components"]))
    problems = []
    for (event, action), name in WEBHOOK_SCHEMAS.items():
        payloads = played.payloads.get((event, action), [])
        assert payloads, f"the scenario never received {event} {action}"
        schema = openapi_to_json_schema(reference_errata(vendored["webhooks"][name]["schema"]))
        validator = jsonschema.Draft202012Validator({**schema, "components": components})
        for payload in payloads:
            for error in list(validator.iter_errors(payload))[:3]:
                where = "/".join(str(p) for p in error.absolute_path) or "(root)"
                problems.append(f"{event}.{action} at {where}: {error.message[-300:]}")
    assert not problems, "\n".join(problems)


# 4. the bot's own traffic fits GitHub too ---------------------------------------------------
async def test_the_bots_requests_and_the_answers_it_gets_fit_githubs_schemas(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    """A short release story with the real bot: every request it makes is one GitHub's schema accepts,
    and every answer it gets fits the schema the bot's code was written against."""
    from bot.sandbox import seed

    recorder = Recorder()
    running = await start_sandbox(
        state_dir=tmp_path / "sandbox",
        webhook_secret="sandbox-secret",
        prepare=lambda app: app.on_response_prepare.append(recorder.on_response_prepare),
    )
    world = World(running, session)
    await world.start_bot()
    try:
        config = "roles:\n  qa: [bob]\n  rte: [alice]\n"
        await seed.create_org_repo(
            world,
            "acme",
            "app",
            admin="alice",
            default_branch="devel",
            files={"README.md": "app\n", ".github/release-train.yml": config},
        )
        for login in ("bob", "carol"):
            await seed.grant(world, "acme/app", login, "write")
        await seed.create_branch(world, "alice", "acme/app", "fr/FR-1-login", "devel")
        await seed.commit(world, "alice", "acme/app", "fr/FR-1-login", {"login.py": "print('login')\n"}, "Login")
        pr = await seed.open_pr(world, "alice", "acme/app", head="fr/FR-1-login", base="devel", title="FR-1 login")
        await world.settle()
        await seed.add_labels(world, "carol", "acme/app", pr["number"], "qa/verified")  # not QA: the bot takes it off
        await world.settle()
        await seed.comment(world, "carol", "acme/app", pr["number"], "/help")
        await seed.comment(world, "alice", "acme/app", pr["number"], "/cut-rc 1.0 --dry-run")
        await world.settle()
        await seed.merge_pr(world, "alice", "acme/app", pr["number"])
        await world.settle()
        await seed.comment(world, "alice", "acme/app", pr["number"], "/cut-rc 1.0")
        await world.settle()
    finally:
        await world.close()
    bot_calls = [e for e in running.app[REQUEST_LOG] if e["actor"] in ("app", "installation")]
    assert len(bot_calls) > 10, "the bot hardly spoke to the sandbox; the story did not run"
    problems = recorder.problems
    assert not problems, f"{len(problems)} requests or answers do not fit GitHub's schemas:\n" + "\n".join(problems)
