"""The sandbox held to GitHub: its routes exist in the OpenAPI description, its answers fit their schemas, its webhooks carry GitHub's keys.

One scenario drives every operation the sandbox serves, as people and as the app, happy and error
paths; every answer seen on the way is validated against the vendored schema for that operation and
status. Webhooks sent during the scenario are compared, key by key and at every depth, with GitHub's
own example payloads for that event and action (tests/reference/, see its README).
"""

from __future__ import annotations

import base64
import copy
import json
import re
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
from aiohttp import web
from gidgethub import apps

from bot.sandbox.harness import Answer, World
from bot.sandbox.runner import start_sandbox

REFERENCE = Path(__file__).parent / "reference"
REFRESH = "run `.venv/bin/python tests/reference/vendor.py` to vendor it"


# references --------------------------------------------------------------------------------
def template_key(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def aiohttp_template(canonical: str) -> str:
    """'/x/{name:regex}' -> '/x/{name}' (regexes may hold braces)."""
    out, i = [], 0
    while i < len(canonical):
        if canonical[i] == "{":
            depth, j = 1, i + 1
            while depth:
                depth += {"{": 1, "}": -1}.get(canonical[j], 0)
                j += 1
            out.append("{" + canonical[i + 1 : j - 1].split(":", 1)[0] + "}")
            i = j
        else:
            out.append(canonical[i])
            i += 1
    return "".join(out)


def openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: `nullable: true` becomes a null alternative."""
    if isinstance(node, list):
        return [openapi_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    converted = {k: openapi_to_json_schema(v) for k, v in node.items() if k not in ("nullable", "example", "examples", "discriminator")}
    if node.get("nullable"):
        if "enum" in converted and None not in converted["enum"]:
            converted["enum"] = [*converted["enum"], None]
        if isinstance(converted.get("type"), str) and set(converted) <= {"type", "description", "title", "format", "enum", "properties", "required", "items", "additionalProperties", "default", "readOnly", "maxLength", "minLength", "minimum", "maximum", "pattern", "uniqueItems", "maxItems", "minItems", "deprecated"}:
            converted["type"] = [converted["type"], "null"]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


class Reference:
    def __init__(self) -> None:
        self.paths = json.loads((REFERENCE / "openapi-paths.json").read_text())["paths"]
        vendored = json.loads((REFERENCE / "openapi-operations.json").read_text())
        self.operations: dict[str, Any] = vendored["operations"]
        self.components = openapi_to_json_schema(vendored["components"])
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
            root = {**openapi_to_json_schema(schema), "components": self.components}
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
        if resource is None or resource.canonical.startswith(("/_sandbox/", "/_html")):
            return
        template = aiohttp_template(resource.canonical)
        operation = REF.operation_for(request.method, template)
        if operation is None:
            self.problems.append(f"{request.method} {template}: no vendored operation ({REFRESH})")
            return
        self.seen[operation].add(response.status)
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
        errors = sorted(REF.validator((operation, status_key), schema).iter_errors(answer), key=lambda e: list(e.absolute_path))
        for error in errors[:3]:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            self.problems.append(f"{operation} {response.status} at {where}: {error.message[:300]}")


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
        key = Path(self.world.sandbox.config.private_key_path).read_text()  # type: ignore[arg-type]
        return apps.get_jwt(app_id=str(self.world.sandbox.config.app_id), private_key=key)

    async def user(self, login: str | None, method: str, path: str, body: Any = None, expect: int | tuple[int, ...] | None = None, **headers: str) -> Answer:
        answer = await self.world.call(login, method, path, body, headers=headers or None)
        self._expect(method, path, answer, expect)
        return answer

    async def app(self, method: str, path: str, body: Any = None, expect: int | tuple[int, ...] | None = None) -> Answer:
        answer = await self.world.call(None, method, path, body, headers={"Authorization": f"Bearer {self.jwt()}"})
        self._expect(method, path, answer, expect)
        return answer

    async def bot(self, owner: str, method: str, path: str, body: Any = None, expect: int | tuple[int, ...] | None = None) -> Answer:
        if self._token is None:
            inst = await self.app("GET", f"/orgs/{owner}/installation", expect=200)
            self._token = (await self.app("POST", f"/app/installations/{inst.body['id']}/access_tokens", expect=201)).body["token"]
        answer = await self.world.call(None, method, path, body, headers={"Authorization": f"token {self._token}"})
        self._expect(method, path, answer, expect)
        return answer

    @staticmethod
    def _expect(method: str, path: str, answer: Answer, expect: int | tuple[int, ...] | None) -> None:
        if expect is None:
            return
        wanted = (expect,) if isinstance(expect, int) else expect
        assert answer.status in wanted, f"{method} {path}: {answer.status} {answer.body}"


@pytest.fixture
async def scenario(tmp_path: Path, session: aiohttp.ClientSession) -> AsyncIterator[Scenario]:
    recorder, catcher = Recorder(), HookCatcher()

    def prepare(app: web.Application) -> None:
        app.on_response_prepare.append(recorder.on_response_prepare)

    receiver = web.Application()
    receiver.router.add_post("/webhook", catcher.handle)
    receiver_runner = web.AppRunner(receiver, access_log=None)
    await receiver_runner.setup()
    site = web.TCPSite(receiver_runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    running = await start_sandbox(state_dir=tmp_path / "sandbox", webhook_url=f"http://127.0.0.1:{port}/webhook", webhook_secret="s", prepare=prepare)
    world = World(running, session)
    try:
        yield Scenario(world, recorder, catcher)
    finally:
        await running.stop()
        await receiver_runner.cleanup()


def served_routes(world: World) -> set[tuple[str, str]]:
    routes = set()
    for route in world.app.router.routes():
        canonical = route.resource.canonical if route.resource is not None else ""
        if canonical.startswith(("/_sandbox/", "/_html")) or route.method in ("HEAD", "*"):
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
    schema = openapi_to_json_schema({"type": "object", "properties": {
        "closed_at": {"type": "string", "format": "date-time", "nullable": True},
        "milestone": {"nullable": True, "allOf": [{"$ref": "#/x"}]},
        "state_reason": {"type": "string", "enum": ["completed"], "nullable": True},
    }})
    validator = jsonschema.Draft202012Validator({**schema, "x": {"type": "object"}})
    assert validator.is_valid({"closed_at": None, "milestone": None, "state_reason": None})
    assert not validator.is_valid({"closed_at": 3})
    assert not validator.is_valid({"state_reason": "nope"})
