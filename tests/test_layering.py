"""The layering, checked on the source: pure rules, one door to GitHub, and no import cycles in bot/."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"

# What a rule may import: the standard library's pure parts, and parsers that do no I/O.
PURE_IMPORTS = {
    "__future__",
    "abc",
    "base64",
    "binascii",
    "bisect",
    "collections",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "enum",
    "fnmatch",
    "functools",
    "hashlib",
    "heapq",
    "html",
    "itertools",
    "json",
    "markdown_it",
    "math",
    "mdit_py_plugins",
    "nh3",
    "operator",
    "re",
    "re2",
    "shlex",
    "string",
    "textwrap",
    "types",
    "typing",
    "unicodedata",
    "urllib.parse",
    "yaml",
    "msgspec",
}
# Modules that can also do I/O, imported by name for functions that do none (their flags are constants).
PURE_FUNCTIONS = {
    ("wcmatch", "glob"): {"globmatch"},  # matches a name against a pattern; glob.glob would read the disk
}

# A path of GitHub's REST API, as a template or a literal.
REST_PATH = re.compile(r"^/(repos|orgs|app|installation|user|users|teams|search|enterprises|rate_limit|meta)(/|\{|$)")
# The door and the stand-ins for GitHub and for people, whose whole business is REST paths.
DOOR = ("github", "sandbox")
PEOPLE = ("demo.py",)


def modules() -> Iterator[tuple[str, str, ast.Module]]:
    """(path under bot/, dotted module name, syntax tree) of every module of bot/."""
    for path in sorted(BOT.rglob("*.py")):
        relative = path.relative_to(BOT).as_posix()
        parts = ["bot", *path.relative_to(BOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        yield relative, ".".join(parts), ast.parse(path.read_text(), filename=str(path))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(imported module, names taken from it) for every import that runs: at the top or inside functions,
    but not under `if TYPE_CHECKING:`."""

    def walk(node: ast.AST) -> Iterator[tuple[str, tuple[str, ...]]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    yield from walk(other)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, ()
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    package = module.split(".") if is_package else module.split(".")[:-1]
                    package = package[: len(package) - (child.level - 1)]
                    base = ".".join([*package, base] if base else package)
                yield base, tuple(alias.name for alias in child.names)
            else:
                yield from walk(child)

    yield from walk(tree)


def import_graph() -> dict[str, set[str]]:
    trees = {name: (relative, tree) for relative, name, tree in modules()}
    graph: dict[str, set[str]] = {name: set() for name in trees}
    for name, (relative, tree) in trees.items():
        for imported, names in imports(tree, name, relative.endswith("__init__.py")):
            if not imported.startswith("bot"):
                continue
            # `from bot.handlers import guards` imports the module bot.handlers.guards.
            submodules = {f"{imported}.{n}" for n in names if f"{imported}.{n}" in trees}
            graph[name] |= submodules or ({imported} if imported in trees else set())
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (or a module importing itself), Tarjan's way."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph[node]:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def rest_paths(tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            text = str(node.values[0].value)
        if text is not None and REST_PATH.match(text):
            found.append(f"{node.lineno}: {text}")
    return found


def test_rules_import_nothing_that_does_io() -> None:
    trees = {name: (relative, tree) for relative, name, tree in modules()}
    offences = []
    # The rules, and every bot module they import, import only pure modules.
    todo = [name for name in trees if name.startswith("bot.rules")]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        relative, tree = trees[name]
        for imported, names in imports(tree, name, relative.endswith("__init__.py")):
            if imported.startswith("bot"):
                todo += [m for m in {f"{imported}.{n}" for n in names} | {imported} if m in trees]
            elif len(names) == 1 and (imported, names[0]) in PURE_FUNCTIONS:
                allowed = PURE_FUNCTIONS[(imported, names[0])]
                offences += [
                    f"{relative}:{node.lineno}: {names[0]}.{node.attr}"
                    for node in ast.walk(tree)
                    if isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == names[0]
                    and not node.attr.isupper()
                    and node.attr not in allowed
                ]
            elif imported not in PURE_IMPORTS and imported.split(".")[0] not in PURE_IMPORTS - {"urllib"}:
                offences.append(f"{relative} imports {imported}")
        for node in ast.walk(tree):
            if isinstance(node, (ast.Await, ast.AsyncFunctionDef, ast.AsyncFor, ast.AsyncWith)):
                offences.append(f"{relative}:{node.lineno}: {type(node).__name__}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("open", "print", "input")
            ):
                offences.append(f"{relative}:{node.lineno}: {node.func.id}()")
    assert any(name.startswith("bot.rules.") for name in seen), "the rules were found"
    assert offences == []


def test_no_rest_path_outside_the_door() -> None:
    offences = []
    for relative, _, tree in modules():
        if relative.split("/")[0] in DOOR or relative in PEOPLE:
            continue
        offences += [f"{relative}:{where}" for where in rest_paths(tree)]
    assert offences == [], "REST paths belong in bot/github (add a RepoAPI method)"


def test_the_door_holds_rest_paths() -> None:
    """The check above sees paths where they are (it would pass by itself if it saw none anywhere)."""
    door = [
        where for relative, _, tree in modules() if relative.startswith("github/repo/") for where in rest_paths(tree)
    ]
    assert len(door) > 40


def test_no_import_cycles_in_bot() -> None:
    graph = import_graph()
    assert "bot.handlers.context" in graph["bot.worker"], "imports are read"
    assert cycles(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}
    assert sorted(cycles(graph)) == [["a", "b", "c"], ["d"]]


def test_imports_under_type_checking_do_not_count_and_imports_in_functions_do() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from bot.a import A\n"
        "def f():\n    from bot.b import B\n"
    )
    assert [name for name, _ in imports(tree, "bot.x", False)] == ["typing", "bot.b"]


# Where a handler may still index a payload's raw dict, and why (everywhere else it reads the typed record).
RAW_PAYLOAD_READS = {
    # Every concern's command function (CommandFn) takes the issue and the comment as the payload holds them;
    # on_comment reads the typed record first, which has checked both against GitHub's schema.
    "handlers/commands.py": 1,
}


def test_handlers_read_payloads_through_their_typed_records() -> None:
    found: dict[str, int] = {}
    for path in sorted(BOT.rglob("*.py")):
        count = sum(line.count("event.data[") for line in path.read_text().splitlines())
        if count:
            found[path.relative_to(BOT).as_posix()] = count
    # The one line in commands.py reads both parts: `issue, comment = event.data["issue"], event.data["comment"]`.
    assert found == {path: 2 * lines for path, lines in RAW_PAYLOAD_READS.items()}, found
