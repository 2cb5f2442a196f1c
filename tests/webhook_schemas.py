"""GitHub's webhook payload schemas (tests/reference/webhook-schemas.json), and the bot's payload records held to them."""

from __future__ import annotations

import json
import typing
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from msgspec import inspect as mi

from bot.github import events

VENDORED = json.loads((Path(__file__).parent / "reference" / "webhook-schemas.json").read_text())
SCHEMAS: dict[str, Any] = VENDORED["components"]["schemas"]
REFRESH = "run `.venv/bin/python tests/reference/vendor.py` to vendor it"


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = SCHEMAS[node["$ref"].rsplit("/", 1)[-1]]
    return node


def schema_of(event: str, action: str | None) -> dict[str, Any]:
    """The payload schema GitHub gives for this event and action."""
    refs = VENDORED["webhooks"].get(event)
    assert refs is not None, f"no schema vendored for the {event!r} event; {REFRESH}"
    ref = refs.get(action or "")
    assert ref is not None, f"no schema vendored for {event} {action!r}; {REFRESH}"
    return resolve({"$ref": ref})


def nullable(node: dict[str, Any]) -> bool:
    """Whether null is a value the schema admits (allOf: every part must admit it)."""
    node_here = node
    node = resolve(node)
    if node_here.get("nullable") or node.get("nullable") or node.get("type") == "null":
        return True
    if None in (node.get("enum") or ()):
        return True
    if node.get("allOf"):
        return all(nullable(part) for part in node["allOf"])
    return any(nullable(alt) for key in ("anyOf", "oneOf") for alt in node.get(key, ()))


@dataclass
class ObjectView:
    """One shape an object may take: each property's schemas (allOf parts each add theirs) and what is required."""

    properties: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    required: set[str] = field(default_factory=set)


def object_views(node: dict[str, Any]) -> list[ObjectView]:
    """The object shapes a schema allows: allOf merges its parts; anyOf and oneOf are alternatives."""
    node = resolve(node)
    alternatives = [alt for key in ("anyOf", "oneOf") for alt in node.get(key, ())]
    if alternatives:
        views = [view for alt in alternatives for view in object_views(alt) if not _is_null(alt)]
    else:
        views = [ObjectView()]
    own = ObjectView()
    for name, sub in (node.get("properties") or {}).items():
        own.properties[name].append(sub)
    own.required.update(node.get("required") or ())
    parts = [own] + [view for part in node.get("allOf", ()) for view in object_views(part)]
    merged: list[ObjectView] = []
    for view in views:
        combined = ObjectView()
        for part in [view, *parts]:
            for name, subs in part.properties.items():
                combined.properties[name].extend(subs)
            combined.required |= part.required
        merged.append(combined)
    return merged


def _is_null(node: dict[str, Any]) -> bool:
    return resolve(node).get("type") == "null"


def schema_types(node: dict[str, Any]) -> set[str]:
    """The JSON types a schema admits, null aside ('any' when it says nothing)."""
    node = resolve(node)
    found: set[str] = set()
    if isinstance(node.get("type"), str) and node["type"] != "null":
        found.add(node["type"])
    for key in ("anyOf", "oneOf", "allOf"):
        for alt in node.get(key, ()):
            found |= schema_types(alt)
    if not found and ("properties" in node or "additionalProperties" in node):
        found.add("object")
    if not found and node.get("enum"):
        found |= {_json_type(v) for v in node["enum"] if v is not None}
    return found or {"any"}


def _json_type(value: Any) -> str:
    return {str: "string", bool: "boolean", int: "integer", float: "number"}.get(type(value), "object")


@dataclass
class Use:
    """One place a record's field meets the schema: required there, nullable there."""

    where: str
    required: bool
    nullable: bool


@dataclass
class Findings:
    uses: dict[tuple[type, str], list[Use]] = field(default_factory=lambda: defaultdict(list))
    problems: list[str] = field(default_factory=list)


def _members(t: mi.Type) -> list[mi.Type]:
    return list(t.types) if isinstance(t, mi.UnionType) else [t]


def _accepts(t: mi.Type, json_type: str) -> bool:
    kinds = {
        mi.StrType: {"string"},
        mi.LiteralType: {"string", "integer"},
        mi.IntType: {"integer"},
        mi.FloatType: {"number", "integer"},
        mi.BoolType: {"boolean"},
        mi.StructType: {"object"},
        mi.DictType: {"object"},
        mi.ListType: {"array"},
        mi.AnyType: {"string", "integer", "number", "boolean", "object", "array"},
    }
    return any(json_type in kinds.get(type(member), set()) for member in _members(t))


def check_type(t: mi.Type, node: dict[str, Any], where: str, found: Findings) -> None:
    """A record's field type against the schema of that place: every JSON type it admits is read, and no other."""
    admitted = schema_types(node) - {"any"}
    for json_type in sorted(admitted):
        if not _accepts(t, json_type):
            found.problems.append(f"{where}: GitHub may send {json_type}, which {_name(t)} refuses")
    for member in _members(t):
        if isinstance(member, mi.NoneType):
            continue
        if admitted and not any(_accepts(member, json_type) for json_type in admitted):
            found.problems.append(f"{where}: {_name(member)} is not a type GitHub sends there ({sorted(admitted)})")
        if isinstance(member, mi.LiteralType):
            enum = resolve(node).get("enum")
            if enum is not None and not set(member.values) <= set(enum):
                found.problems.append(f"{where}: {member.values} not within GitHub's values {enum}")
        elif isinstance(member, mi.StructType):
            check_struct(member.cls, node, where, found)
        elif isinstance(member, mi.ListType):
            for items in item_schemas(node):
                check_type(member.item_type, items, where + "[]", found)


def item_schemas(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The schemas of an array's items: one per alternative shape (allOf parts hold together)."""
    node = resolve(node)
    alternatives = [alt for key in ("anyOf", "oneOf") for alt in node.get(key, ()) if not _is_null(alt)]
    if alternatives:
        return [items for alt in alternatives for items in item_schemas(alt)]
    parts = [node["items"]] if "items" in node else []
    for part in node.get("allOf", ()):
        parts += item_schemas(part)
    return [] if not parts else [parts[0] if len(parts) == 1 else {"allOf": parts}]


def _name(t: mi.Type) -> str:
    return type(t).__name__.removesuffix("Type").lower()


def check_struct(cls: type, node: dict[str, Any], where: str, found: Findings) -> None:
    views = object_views(node)
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    for f in info.fields:
        path = f"{where}.{f.name}"
        defined = [view for view in views if f.name in view.properties]
        if not defined:
            found.problems.append(f"{path} ({cls.__name__}.{f.name}): GitHub's schema has no such field")
            continue
        # Within one shape, allOf parts that each describe the field all hold at once.
        subs = [
            subs[0] if len(subs) == 1 else {"allOf": subs} for subs in (view.properties[f.name] for view in defined)
        ]
        found.uses[(cls, f.name)].append(
            Use(
                where=path,
                required=all(f.name in view.required for view in views),
                nullable=any(nullable(sub) for sub in subs),
            )
        )
        for sub in subs:
            check_type(f.type, sub, path, found)


def check_records() -> Findings:
    """Every record of `events.RECORDS` against its event's schema, then each field against all its uses."""
    found = Findings()
    for (event, action), kind in events.RECORDS.items():
        check_struct(kind, schema_of(event, action), f"{event}:{action or ''} $", found)
    found.problems += field_rules(found)
    return found


def field_rules(found: Findings) -> list[str]:
    """Each field of a record against every place it meets the schema: optional (UNSET) unless every place
    requires it, and nullable exactly when some place admits null."""
    problems = []
    for (cls, name), uses in sorted(found.uses.items(), key=lambda item: (item[0][0].__name__, item[0][1])):
        hint = typing.get_type_hints(cls)[name]
        args = set(typing.get_args(hint)) or {hint}
        optional = msgspec.UnsetType in args
        default = next(f.default for f in msgspec.structs.fields(cls) if f.name == name)
        label = f"{cls.__name__}.{name}"
        if all(u.required for u in uses) == optional:
            needed = "required" if all(u.required for u in uses) else "optional at " + _first(uses, required=False)
            problems.append(
                f"{label}: GitHub's schema has it {needed}; the record says {'optional' if optional else 'required'}"
            )
        if default is not (msgspec.UNSET if optional else msgspec.NODEFAULT):
            problems.append(f"{label}: an optional field defaults to UNSET (absent), not {default!r}")
        if any(u.nullable for u in uses) != (type(None) in args):
            needed = "nullable at " + _first(uses, nullable=True) if any(u.nullable for u in uses) else "never null"
            problems.append(
                f"{label}: GitHub's schema has it {needed}; the record {'admits' if type(None) in args else 'refuses'} null"
            )
    return problems


def _first(uses: list[Use], **flags: bool) -> str:
    return next(u.where for u in uses if all(getattr(u, k) == v for k, v in flags.items()))
