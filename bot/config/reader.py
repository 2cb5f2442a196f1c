"""Reads the YAML text of `.github/release-train.yml` into the schema's dataclasses, with errors that name the line."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
import typing
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from bot.config.checks import check_values
from bot.config.schema import ConfigError, ConfigResult, RepoConfig

# The most a config file may weigh; GitHub's contents API inlines files up to 1 MB, a config needs far less.
MAX_CONFIG_BYTES = 256 * 1024
_TAG = "tag:yaml.org,2002:"


def parse_config(text: str | bytes | None) -> ConfigResult:
    """Parse the YAML text of `.github/release-train.yml` (None or empty means all defaults).

    Every problem becomes a ConfigError naming the dotted key and the line; the result's config is
    None whenever there is at least one error, so no one acts on a half-read file.
    """
    if isinstance(text, bytes):
        if len(text) > MAX_CONFIG_BYTES:
            return _failed(
                None, "", f"the file is {len(text)} bytes; a configuration may be at most {MAX_CONFIG_BYTES}"
            )
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _failed(None, "", f"the file is not UTF-8 text (byte {exc.start})")
    if text is None or not text.strip():
        return ConfigResult(RepoConfig())
    if len(text.encode("utf-8", errors="replace")) > MAX_CONFIG_BYTES:
        return _failed(None, "", f"the file is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "cannot be read"
        if exc.context and problem.startswith("but "):
            problem = f"{exc.context}, {problem}"
        where = f" (column {mark.column + 1})" if mark is not None else ""
        return _failed(mark.line + 1 if mark is not None else None, "", f"invalid YAML: {problem}{where}")
    except yaml.YAMLError as exc:
        return _failed(None, "", f"invalid YAML: {exc}")
    if root is None or _is_null(root):
        return ConfigResult(RepoConfig())
    if not isinstance(root, yaml.MappingNode):
        return _failed(
            _line(root), "", f"the top level must be a mapping of sections (branches, labels, ...), got {_kind(root)}"
        )
    reader = _Reader()
    config = reader.convert(root, RepoConfig, "")
    if isinstance(config, RepoConfig):
        reader.errors.extend(check_values(config, reader.lines))
    if reader.errors:
        errors = sorted(reader.errors, key=lambda e: (e.line or 0, e.key))
        return ConfigResult(None, tuple(errors), lines=reader.lines)
    return ConfigResult(config, lines=reader.lines)


def _failed(line: int | None, key: str, message: str) -> ConfigResult:
    return ConfigResult(None, (ConfigError(line, key, message),))


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _TAG + "null"


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    tag = node.tag
    if tag == _TAG + "null":
        return "nothing (null)"
    if tag == _TAG + "bool":
        return f"{node.value!r} (true/false)"
    if tag in (_TAG + "int", _TAG + "float"):
        return f"the number {node.value}"
    if tag == _TAG + "str":
        return f"the text {node.value!r}"
    return f"a value tagged {tag}"


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


class _Invalid:
    """A value that could not be read; its error is already recorded."""


_INVALID = _Invalid()


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


class _Reader:
    """Turns YAML nodes into the dataclasses, reading the wanted types off the dataclasses themselves."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []
        self.lines: dict[str, int] = {}
        self._constructor = SafeConstructor()

    def error(self, line: int | None, key: str, message: str) -> _Invalid:
        self.errors.append(ConfigError(line, key, message))
        return _INVALID

    def convert(self, node: yaml.Node, tp: Any, key: str) -> Any:
        self.lines[key] = _line(node)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            return self.dataclass(node, tp, key)
        if origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(tp) if a is not type(None)]
            if _is_null(node) and len(options) < len(typing.get_args(tp)):
                return None
            if len(options) != 1:
                raise TypeError(f"{key}: unsupported type {tp}")
            return self.convert(node, options[0], key)
        if origin is tuple:
            args = typing.get_args(tp)
            if len(args) != 2 or args[1] is not Ellipsis:
                raise TypeError(f"{key}: unsupported type {tp}")
            item = args[0]
            if typing.get_origin(item) is tuple:
                return self.pairs(node, key)
            return self.sequence(node, item, key)
        if tp in (str, bool, int, float):
            return self.scalar(node, tp, key)
        raise TypeError(f"{key}: unsupported type {tp}")

    def scalar(self, node: yaml.Node, tp: type, key: str) -> Any:
        want = {str: "text", bool: "true or false", int: "a whole number", float: "a number"}[tp]
        if not isinstance(node, yaml.ScalarNode):
            return self.error(_line(node), key, f"expected {want}, got {_kind(node)}")
        tag = node.tag
        if tp is str:
            if tag != _TAG + "str":
                hint = f' (quote it: "{node.value}")' if tag in (_TAG + "int", _TAG + "float", _TAG + "bool") else ""
                return self.error(_line(node), key, f"expected text, got {_kind(node)}{hint}")
            if not node.value.strip():
                return self.error(_line(node), key, "must not be empty")
            return node.value
        accepted = {bool: (_TAG + "bool",), int: (_TAG + "int",), float: (_TAG + "float", _TAG + "int")}[tp]
        if tag not in accepted:
            return self.error(_line(node), key, f"expected {want}, got {_kind(node)}")
        try:
            value = self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            return self.error(_line(node), key, f"cannot be read as {want}: {getattr(exc, 'problem', exc)}")
        return tp(value)

    def sequence(self, node: yaml.Node, item: Any, key: str) -> Any:
        if _is_null(node):
            return ()
        # A single value stands for a list of one ("qa: '@acme/qa'").
        nodes = node.value if isinstance(node, yaml.SequenceNode) else [node]
        values = []
        for index, child in enumerate(nodes):
            value = self.convert(child, item, f"{key}[{index}]")
            if value is not _INVALID:
                values.append(value)
        return tuple(values)

    def pairs(self, node: yaml.Node, key: str) -> Any:
        """A mapping of names to plain values (workflow inputs), kept as text as written."""
        if _is_null(node):
            return ()
        if not isinstance(node, yaml.MappingNode):
            return self.error(_line(node), key, f"expected a mapping of names to values, got {_kind(node)}")
        values = []
        seen: dict[str, int] = {}
        for name_node, value_node in node.value:
            name = str(name_node.value) if isinstance(name_node, yaml.ScalarNode) else ""
            child = _join(key, name)
            self.lines[child] = _line(value_node)
            if not name:
                self.error(_line(name_node), key, "names must be plain text")
                continue
            if name in seen:
                self.error(_line(name_node), child, f"duplicate key (first set on line {seen[name]})")
                continue
            seen[name] = _line(name_node)
            if not isinstance(value_node, yaml.ScalarNode) or _is_null(value_node):
                self.error(_line(value_node), child, f"expected a plain value, got {_kind(value_node)}")
                continue
            values.append((name, str(value_node.value)))
        return tuple(values)

    def dataclass(self, node: yaml.Node, cls: type, key: str) -> Any:
        fields = [f for f in dataclasses.fields(cls) if f.init]
        hints = _hints(cls)
        required = [
            f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        if _is_null(node) and not required:
            return cls()
        if (
            isinstance(node, yaml.ScalarNode)
            and not _is_null(node)
            and fields
            and fields[0].name in required
            and hints[fields[0].name] is str
        ):
            # Shorthand: "regression" stands for {name: regression}.
            value = self.scalar(node, str, _join(key, fields[0].name))
            return _INVALID if value is _INVALID else cls(value)
        if not isinstance(node, yaml.MappingNode):
            return self.error(_line(node), key, f"expected a mapping, got {_kind(node)}")
        known = {f.name: f for f in fields}
        values: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for name_node, value_node in node.value:
            name = str(name_node.value) if isinstance(name_node, yaml.ScalarNode) else ""
            child = _join(key, name)
            if name in seen:
                self.error(_line(name_node), child, f"duplicate key (first set on line {seen[name]})")
                continue
            seen[name] = _line(name_node)
            if name not in known:
                self.error(_line(name_node), child, _unknown(name, list(known)))
                continue
            value = self.convert(value_node, hints[name], child)
            if value is not _INVALID:
                values[name] = value
        # A value that could not be read keeps its default; its error already makes the file invalid.
        missing = [name for name in required if name not in values]
        for name in missing:
            if name not in seen:
                self.error(_line(node), _join(key, name), "is required")
        if missing:
            return _INVALID
        return cls(**values)


def _unknown(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key (did you mean {close[0]!r}?)"
    return f"unknown key (known keys: {', '.join(known)})"


def config_to_dict(config: RepoConfig) -> dict[str, Any]:
    """The config as plain data in the file's own shape: dumped as YAML, it parses back to the same config."""
    return _plain(config, RepoConfig)


def _plain(value: Any, tp: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        hints = _hints(type(value))
        return {f.name: _plain(getattr(value, f.name), hints[f.name]) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        args = typing.get_args(tp)
        item = args[0] if args else Any
        if typing.get_origin(item) is tuple:
            return {name: text for name, text in value}
        return [_plain(v, item) for v in value]
    return value
