"""Extract the parts of GitHub's OpenAPI description and webhook examples that the sandbox conformance tests need.

Run from the project root when the sandbox gains routes or the references change:

    .venv/bin/python tests/reference/vendor.py [--reference ../shared/reference]

It writes, next to this file:
- openapi-paths.json: every path template in the description with its methods (for "does this route exist");
- openapi-operations.json: each operation the sandbox serves (found by walking the sandbox's router), with
  its request-body and response schemas, and the component schemas they reach (kept as local $refs);
- webhook-examples.json: GitHub's example payloads for the events the sandbox sends;
- webhook-payloads.json: GitHub's example payloads for every event (the bot is fed each of them);
- openapi-webhooks.json: the `x-webhooks` schemas of the events the sandbox sends that the examples
  file has no payload for (deployment_protection_rule), with the component schemas they reach.
- webhook-schemas.json: the `x-webhooks` request-body schema of each event and action the sandbox sends or the bot
  may route (`WEBHOOK_SCHEMA_EVENTS`), with the component schemas they reach (kept as local $refs).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[1]
DEFAULT_REFERENCE = PROJECT.parent / "shared" / "reference"
METHODS = ("get", "put", "post", "patch", "delete", "head")

# Events the sandbox sends (issue 2, section 4), plus ping and the installation events an app receives.
WEBHOOK_EVENTS = (
    "check_run",
    "check_suite",
    "create",
    "delete",
    "deployment",
    "deployment_status",
    "installation",
    "installation_repositories",
    "issue_comment",
    "issues",
    "label",
    "merge_group",
    "milestone",
    "ping",
    "pull_request",
    "push",
    "release",
    "repository",
    "repository_dispatch",
    "status",
    "workflow_dispatch",
    "workflow_run",
)

# Events whose payload schemas are vendored per action (the bot's payload records are held to them): those
# above, and the ones an app receives that no example covers.
WEBHOOK_SCHEMA_EVENTS = (*WEBHOOK_EVENTS, "deployment_protection_rule")

# Events the sandbox sends with no example payload: their payloads are held to the x-webhooks schemas.
WEBHOOK_SCHEMAS = ("deployment-protection-rule-requested",)

# Areas of the API the sandbox serves or is about to: their operations are vendored even before a
# route exists, so that a new route finds its schema without a refresh.
AREAS = tuple(
    re.compile(pattern)
    for pattern in (
        r"^/app(/|$)",
        r"^/app-manifests/",
        r"^/installation/repositories$",
        r"^/rate_limit$",
        r"^/user/repos$",
        r"^/users/\{username\}(/installation)?$",
        r"^/orgs/\{org\}(/repos|/installation|/teams.*|/members.*|/memberships.*)?$",
        r"^/repos/\{owner\}/\{repo\}(/(issues|pulls|git|contents|commits|branches|compare|merges|check-runs|check-suites"
        r"|statuses|releases|deployments|actions|environments|rulesets|rules|dispatches|milestones|assignees|events|comments|collaborators|labels|installation|teams|tags|readme|hooks|activity)(/.*)?)?$",
        r"^/teams/",
    )
)


def template_key(path: str) -> str:
    """A path with every parameter written as {} so that /issues/{issue_number} and /issues/{number} match."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def aiohttp_template(canonical: str) -> str:
    """aiohttp's canonical route ('/x/{name:regex}') as a plain template ('/x/{name}'); regexes may hold braces."""
    out, i = [], 0
    while i < len(canonical):
        if canonical[i] == "{":
            depth, j = 1, i + 1
            while depth:
                depth += {"{": 1, "}": -1}.get(canonical[j], 0)
                j += 1
            name = canonical[i + 1 : j - 1].split(":", 1)[0]
            out.append("{" + name + "}")
            i = j
        else:
            out.append(canonical[i])
            i += 1
    return "".join(out)


def sandbox_routes() -> set[tuple[str, str]]:
    """(METHOD, template) for every REST route the sandbox serves (its own /_sandbox/ and /_html pages aside)."""
    sys.path.insert(0, str(PROJECT))
    from bot.sandbox.app import SandboxConfig, create_sandbox_app
    from bot.sandbox.routes.manifests import WEB_PAGES

    with tempfile.TemporaryDirectory() as state_dir:
        app = create_sandbox_app(SandboxConfig(state_dir=Path(state_dir), webhook_url=None, webhook_secret="x"))
        routes = set()
        for route in app.router.routes():
            canonical = route.resource.canonical if route.resource is not None else ""
            if canonical.startswith(("/_sandbox/", "/_html")) or route.method in ("HEAD", "*"):
                continue
            if canonical in WEB_PAGES:  # GitHub's web pages, not REST operations
                continue
            routes.add((route.method, aiohttp_template(canonical)))
    return routes


def collect_refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref)
        for value in node.values():
            collect_refs(value, found)
    elif isinstance(node, list):
        for value in node:
            collect_refs(value, found)


def resolve(spec: dict[str, Any], ref: str) -> Any:
    node: Any = spec
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def json_schema_of(spec: dict[str, Any], holder: dict[str, Any] | None) -> dict[str, Any] | None:
    """The application/json schema of a response or request body (following a components/responses $ref)."""
    if holder is None:
        return None
    if "$ref" in holder:
        holder = resolve(spec, holder["$ref"])
    content = (holder or {}).get("content") or {}
    for media, body in content.items():
        if media.startswith("application/json") or media == "application/vnd.github.v3.star+json":
            return body.get("schema")
    return None


def vendor_openapi(
    spec: dict[str, Any], routes: set[tuple[str, str]]
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    index = {template_key(path): path for path in spec["paths"]}
    paths = {path: sorted(m.upper() for m in item if m in METHODS) for path, item in spec["paths"].items()}
    operations: dict[str, Any] = {}
    missing = []
    planned = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        if any(area.search(path) for area in AREAS)
        for method in item
        if method in METHODS
    }
    for method, template in sorted(routes | planned, key=lambda r: (r[1], r[0])):
        path = index.get(template_key(template))
        operation = spec["paths"].get(path, {}).get(method.lower()) if path else None
        if operation is None:
            missing.append(f"{method} {template}")
            continue
        responses = {}
        for status, response in operation.get("responses", {}).items():
            responses[status] = {"schema": json_schema_of(spec, response)}
        operations[f"{method} {path}"] = {
            "operationId": operation.get("operationId"),
            "request": json_schema_of(spec, operation.get("requestBody")),
            "responses": responses,
        }
    # The schemas reachable from those operations, and the errors every answer may carry.
    wanted: set[str] = {"#/components/schemas/basic-error", "#/components/schemas/validation-error"}
    collect_refs(operations, wanted)
    schemas: dict[str, Any] = {}
    queue = sorted(wanted)
    while queue:
        ref = queue.pop()
        name = ref.rsplit("/", 1)[-1]
        if not ref.startswith("#/components/schemas/") or name in schemas:
            continue
        schemas[name] = resolve(spec, ref)
        more: set[str] = set()
        collect_refs(schemas[name], more)
        queue.extend(sorted(more))
    vendored = {
        "source": {"info": spec.get("info"), "openapi": spec.get("openapi")},
        "operations": operations,
        "components": {"schemas": schemas},
    }
    return {"paths": paths}, vendored, missing


def vendor_webhook_schemas(spec: dict[str, Any], names: Collection[str] = WEBHOOK_SCHEMAS) -> dict[str, Any]:
    """The request-body schema of each named x-webhook, and every component schema it reaches."""
    webhooks = {}
    for name in names:
        webhooks[name] = {"schema": json_schema_of(spec, spec["x-webhooks"][name]["post"]["requestBody"])}
    wanted: set[str] = set()
    collect_refs(webhooks, wanted)
    schemas: dict[str, Any] = {}
    queue = sorted(wanted)
    while queue:
        ref = queue.pop()
        name = ref.rsplit("/", 1)[-1]
        if name in schemas:
            continue
        schemas[name] = resolve(spec, ref)
        more: set[str] = set()
        collect_refs(schemas[name], more)
        queue.extend(sorted(more))
    return {"source": {"info": spec.get("info")}, "webhooks": webhooks, "components": {"schemas": schemas}}


def vendor_webhooks(
    examples: list[dict[str, Any]], events: Collection[str] | None = WEBHOOK_EVENTS
) -> list[dict[str, Any]]:
    """The examples of these events (of every event when None), in GitHub's order."""
    return [
        {"name": entry["name"], "actions": entry.get("actions", []), "examples": entry.get("examples", [])}
        for entry in examples
        if events is None or entry["name"] in events
    ]


def vendor_payload_schemas(spec: dict[str, Any], events: Collection[str] = WEBHOOK_SCHEMA_EVENTS) -> dict[str, Any]:
    """Each event's payload schema per action ("" for an event without actions), and the components they reach."""
    webhooks: dict[str, dict[str, str]] = {}
    for hook in spec["x-webhooks"].values():
        operation = hook["post"]
        headers = {p["name"].lower(): p.get("example") for p in operation.get("parameters", [])}
        event = headers.get("x-github-event")
        if event not in events:
            continue
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = resolve(spec, ref)
        # A payload of several shapes (review_request_removed: a user or a team) lists them under oneOf.
        shapes = [resolve(spec, s["$ref"]) if "$ref" in s else s for s in schema.get("oneOf", [])] or [schema]
        for shape in shapes:
            for value in ((shape.get("properties") or {}).get("action") or {}).get("enum") or [""]:
                webhooks.setdefault(event, {})[value] = ref
    wanted = {ref for actions in webhooks.values() for ref in actions.values()}
    schemas: dict[str, Any] = {}
    queue = sorted(wanted)
    while queue:
        ref = queue.pop()
        name = ref.rsplit("/", 1)[-1]
        if name in schemas:
            continue
        schemas[name] = resolve(spec, ref)
        more: set[str] = set()
        collect_refs(schemas[name], more)
        queue.extend(sorted(more))
    return {
        "source": {"info": spec.get("info"), "openapi": spec.get("openapi")},
        "webhooks": {event: dict(sorted(actions.items())) for event, actions in sorted(webhooks.items())},
        "components": {"schemas": schemas},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default=str(DEFAULT_REFERENCE))
    args = parser.parse_args()
    reference = Path(args.reference)
    openapi_file = reference / "github-rest-openapi.json"
    webhooks_file = reference / "github-webhook-examples.json"
    spec = json.loads(openapi_file.read_text())
    paths, operations, missing = vendor_openapi(spec, sandbox_routes())
    digest = {
        "github-rest-openapi.json": hashlib.sha256(openapi_file.read_bytes()).hexdigest(),
        "github-webhook-examples.json": hashlib.sha256(webhooks_file.read_bytes()).hexdigest(),
    }
    operations["source"]["sha256"] = digest
    schemas = vendor_payload_schemas(spec)
    schemas["source"]["sha256"] = {"github-rest-openapi.json": digest["github-rest-openapi.json"]}
    (HERE / "webhook-schemas.json").write_text(json.dumps(schemas, sort_keys=True, separators=(",", ":")) + "\n")
    (HERE / "openapi-paths.json").write_text(json.dumps(paths, indent=0, sort_keys=True) + "\n")
    (HERE / "openapi-operations.json").write_text(json.dumps(operations, sort_keys=True, separators=(",", ":")) + "\n")
    hooks = vendor_webhook_schemas(spec)
    (HERE / "openapi-webhooks.json").write_text(json.dumps(hooks, sort_keys=True, separators=(",", ":")) + "\n")
    examples = json.loads(webhooks_file.read_text())
    webhooks = vendor_webhooks(examples)
    (HERE / "webhook-examples.json").write_text(json.dumps(webhooks, sort_keys=True, separators=(",", ":")) + "\n")
    payloads = vendor_webhooks(examples, events=None)
    (HERE / "webhook-payloads.json").write_text(json.dumps(payloads, sort_keys=True, separators=(",", ":")) + "\n")
    print(
        f"{len(operations['operations'])} operations, {len(operations['components']['schemas'])} schemas, "
        f"{len(webhooks)} webhook events vendored; {sum(len(e['examples']) for e in payloads)} example payloads "
        f"of {len(payloads)} events; payload schemas of {len(schemas['webhooks'])} events"
    )
    for route in missing:
        print(f"not in GitHub's description: {route}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
