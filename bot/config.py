"""The repository's `.github/release-train.yml`, parsed into frozen dataclasses with errors that name the line."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
import string
import types
import typing
from dataclasses import dataclass, field
from typing import Any

import re2
import yaml
from yaml.constructor import SafeConstructor

CONFIG_PATH = ".github/release-train.yml"


@dataclass(frozen=True)
class Branches:
    devel: str = "devel"
    feature: str = "fr/*"  # glob
    release_candidate: str = "rc/{version}"  # version is MAJOR.MINOR
    production: str | None = None


@dataclass(frozen=True)
class Labels:
    verified: str = "qa/verified"
    cherry_pick_prefix: str = "cherry-pick/"
    picked: str = "cherry-pick"
    conflict: str = "cherry-pick-conflict"
    fr_ready: str = "fr/ready"
    blocker: str = "release-blocker"
    rc_prefix: str = "rc/"
    bug: str = "bug"
    tracking: str = "release-train"
    released: str = "released"
    hold: str = "release-hold"


@dataclass(frozen=True)
class Checks:
    merge_rules: str = "release-train/merge-rules"
    gate: str = "release-train/gate"
    cherry_pick: str = "release-train/cherry-pick"
    config: str = "release-train/config"
    signoff: str = "release-train/signoff"


@dataclass(frozen=True)
class MergeRules:
    fr_ticket_pattern: str = "[A-Z]+-[0-9]+"
    require_ticket_into_fr: bool = True
    require_children_merged: bool = True
    require_up_to_date: bool = True
    require_ready_label: bool = True
    require_verified_into_rc: bool = True
    require_bug_reference_into_rc: bool = True
    block_fr_into_rc: bool = True
    require_ticket_into_devel: bool = False


@dataclass(frozen=True)
class CherryPick:
    auto_merge: bool = False
    auto_merge_method: str = "squash"  # merge | squash | rebase


@dataclass(frozen=True)
class Roles:
    # "@org/team" or a login; an empty role means the repository's admins and maintainers.
    qa: tuple[str, ...] = ()
    rte: tuple[str, ...] = ()
    pdm: tuple[str, ...] = ()


@dataclass(frozen=True)
class RequiredCheck:
    name: str
    app: str | None = None  # the app slug (check runs) or None: any check run or commit status


@dataclass(frozen=True)
class Gate:
    required_checks: tuple[RequiredCheck, ...] = (
        RequiredCheck("sanity"),
        RequiredCheck("regression"),
        RequiredCheck("nightly"),
    )
    require_signoff: bool = False


@dataclass(frozen=True)
class WorkflowDispatch:
    workflow: str
    inputs: tuple[tuple[str, str], ...] = ()  # values may use {version} and {sha}
    ref: str | None = None  # default: the new RC branch


@dataclass(frozen=True)
class Release:
    tag: str = "v{version}.{patch}"
    environment: str = "production"
    handoff: tuple[str, ...] = ()
    on_rc_created: tuple[WorkflowDispatch, ...] = ()
    tracking_title: str = "Release {version}"


@dataclass(frozen=True)
class RepoConfig:
    branches: Branches = field(default_factory=Branches)
    labels: Labels = field(default_factory=Labels)
    checks: Checks = field(default_factory=Checks)
    merge_rules: MergeRules = field(default_factory=MergeRules)
    cherry_pick: CherryPick = field(default_factory=CherryPick)
    roles: Roles = field(default_factory=Roles)
    gate: Gate = field(default_factory=Gate)
    release: Release = field(default_factory=Release)


@dataclass(frozen=True)
class ConfigError:
    line: int | None  # 1-based line in the YAML file, when known
    key: str  # dotted key, e.g. "labels.verified"; "" for the whole file
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"


@dataclass(frozen=True)
class ConfigResult:
    config: RepoConfig | None
    errors: tuple[ConfigError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


# The most a config file may weigh; GitHub's contents API inlines files up to 1 MB, a config needs far less.
MAX_CONFIG_BYTES = 256 * 1024

# Keys whose value must be one of a few words.
CHOICES: dict[str, tuple[str, ...]] = {
    "cherry_pick.auto_merge_method": ("merge", "squash", "rebase"),
}

# Templates: (placeholders it must use, placeholders it may use).
TEMPLATES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "branches.release_candidate": (frozenset({"version"}), frozenset({"version"})),
    "release.tag": (frozenset({"version", "patch"}), frozenset({"version", "patch"})),
    "release.tracking_title": (frozenset(), frozenset({"version", "sha"})),
}
# What a workflow dispatch's inputs and ref may use (filled in when an RC is cut).
DISPATCH_PLACEHOLDERS = frozenset({"version", "sha"})

# Sections whose strings are label names (GitHub caps a label name at 50 characters).
LABEL_NAME_LIMIT = 50

_VERSION = re.compile(r"[0-9]+\.[0-9]+")
_LOGIN = re.compile(r"@?[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_TEAM = re.compile(r"@?[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
# Characters git refuses in a branch name (the glob's own * ? [ are checked apart).
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:\\]|\.\.|@\{|//")

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
        _check_values(config, reader)
    if reader.errors:
        errors = sorted(reader.errors, key=lambda e: (e.line or 0, e.key))
        return ConfigResult(None, tuple(errors))
    return ConfigResult(config)


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
        if origin is typing.Literal:
            words = tuple(typing.get_args(tp))
            value = self.convert(node, str, key)
            if isinstance(value, str) and value not in words:
                return self.error(_line(node), key, f"must be one of {', '.join(map(repr, words))}, got {value!r}")
            return value
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


def _placeholders(template: str) -> set[str]:
    """The {names} a str.format template uses; raises ValueError on a malformed one."""
    names = set()
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"{{{name}}} is not a plain placeholder")
        names.add(name)
    return names


def _check_template(reader: _Reader, key: str, template: str, must: frozenset[str], may: frozenset[str]) -> None:
    line = reader.lines.get(key)
    try:
        used = _placeholders(template)
    except ValueError as exc:
        reader.error(line, key, f"is not a valid template: {exc}")
        return
    for name in sorted(used - may):
        allowed = ", ".join("{" + m + "}" for m in sorted(may)) or "none"
        reader.error(line, key, f"unknown placeholder {{{name}}} (allowed: {allowed})")
    for name in sorted(must - used):
        reader.error(line, key, f"must contain {{{name}}}")


def _check_values(config: RepoConfig, reader: _Reader) -> None:
    """Rules a type alone cannot say: patterns, templates, names GitHub and git accept, fixed choices."""
    for key, (must, may) in TEMPLATES.items():
        section, name = key.split(".")
        _check_template(reader, key, getattr(getattr(config, section), name), must, may)
    for key, words in CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        if value not in words:
            reader.error(reader.lines.get(key), key, f"must be one of {', '.join(map(repr, words))}, got {value!r}")

    for name in ("devel", "production"):
        branch = getattr(config.branches, name)
        if branch is not None and _bad_branch(branch):
            reader.error(
                reader.lines.get(f"branches.{name}"), f"branches.{name}", f"{branch!r} is not a valid branch name"
            )
    rc_example = config.branches.release_candidate.replace("{version}", "1.5")
    if "{" not in rc_example and (_bad_branch(rc_example) or any(c in rc_example for c in "*?[")):
        reader.error(
            reader.lines.get("branches.release_candidate"),
            "branches.release_candidate",
            f"gives {rc_example!r} for version 1.5, which is not a valid branch name",
        )
    try:
        glob_regex(config.branches.feature)
    except ValueError as exc:
        reader.error(reader.lines.get("branches.feature"), "branches.feature", f"is not a valid glob: {exc}")
    try:
        _compiled(config.merge_rules.fr_ticket_pattern)
    except ValueError as exc:
        reader.error(
            reader.lines.get("merge_rules.fr_ticket_pattern"),
            "merge_rules.fr_ticket_pattern",
            f"is not a valid regular expression: {exc}",
        )

    for field_ in dataclasses.fields(config.labels):
        label = getattr(config.labels, field_.name)
        room = len("99.99") if field_.name.endswith("_prefix") else 0
        if isinstance(label, str) and len(label) + room > LABEL_NAME_LIMIT:
            reader.error(
                reader.lines.get(f"labels.{field_.name}"),
                f"labels.{field_.name}",
                f"is too long for a GitHub label ({LABEL_NAME_LIMIT} characters at most"
                + (", version included)" if room else ")"),
            )

    for role in dataclasses.fields(config.roles):
        for index, member in enumerate(getattr(config.roles, role.name)):
            key = f"roles.{role.name}[{index}]"
            if not (_LOGIN.fullmatch(member) or _TEAM.fullmatch(member)):
                reader.error(reader.lines.get(key), key, f'{member!r} is neither a login nor "@org/team"')
    for index, member in enumerate(config.release.handoff):
        key = f"release.handoff[{index}]"
        if not (_LOGIN.fullmatch(member) or _TEAM.fullmatch(member)):
            reader.error(reader.lines.get(key), key, f'{member!r} is neither a login nor "@org/team"')

    for index, dispatch in enumerate(config.release.on_rc_created):
        key = f"release.on_rc_created[{index}]"
        for name, value in dispatch.inputs:
            _check_template(reader, f"{key}.inputs.{name}", value, frozenset(), DISPATCH_PLACEHOLDERS)
        if dispatch.ref is not None:
            _check_template(reader, f"{key}.ref", dispatch.ref, frozenset(), DISPATCH_PLACEHOLDERS)


def _bad_branch(name: str) -> bool:
    return bool(
        _BAD_REF_CHARS.search(name)
        or name.startswith(("-", "/", "."))
        or name.endswith(("/", ".", ".lock"))
        or name == "@"
    )


def glob_regex(glob: str) -> str:
    """A branch glob as a regular expression (pure): `*` matches any run of characters, `/` included,
    as in fnmatch; `?` one character; `[...]` a class, `[!...]` its complement.
    Raises ValueError when the glob is malformed."""
    if not glob:
        raise ValueError("it is empty")
    out: list[str] = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if c == "*":
            while i < len(glob) and glob[i] == "*":
                i += 1
            out.append(".*")
            continue
        if c == "?":
            out.append(".")
        elif c == "[":
            j = i + 1
            if j < len(glob) and glob[j] == "!":
                j += 1
            if j < len(glob) and glob[j] == "]":
                j += 1
            close = glob.find("]", j)
            if close < 0:
                raise ValueError(f"'[' at position {i + 1} is never closed")
            body = glob[i + 1 : close]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = close
        elif c in " ~^:\\":
            raise ValueError(f"{c!r} cannot appear in a branch name")
        else:
            out.append(re.escape(c))
        i += 1
    regex = "".join(out)
    _compiled(regex)
    return regex


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    """A pattern compiled with RE2, which runs in linear time, so no pattern can hang the bot."""
    options = re2.Options()
    options.log_errors = False  # the error reaches the person through ConfigError, not stderr
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "RE2 rejects it"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", errors="replace")
        raise ValueError(str(reason)) from None


@functools.lru_cache(maxsize=64)
def _feature_matcher(glob: str) -> Any:
    return _compiled(glob_regex(glob))


@functools.lru_cache(maxsize=64)
def _rc_matcher(template: str) -> re.Pattern[str]:
    # Only literal text surrounds {version}, so an escaped pattern cannot backtrack badly.
    head, _, tail = template.partition("{version}")
    return re.compile(re.escape(head) + r"([0-9]+\.[0-9]+)" + re.escape(tail))


# Names the rest of the bot derives from the config (pure) -----------------------------------------


def is_version(text: str) -> bool:
    """MAJOR.MINOR, as in rc/1.5."""
    return _VERSION.fullmatch(text) is not None


def rc_branch_name(config: RepoConfig, version: str) -> str:
    """The RC branch for a MAJOR.MINOR version: rc/1.5."""
    return config.branches.release_candidate.replace("{version}", version)


def rc_version_of(config: RepoConfig, branch: str) -> str | None:
    """The MAJOR.MINOR version of an RC branch (rc/1.5 -> "1.5"), or None for any other branch."""
    if branch.startswith("refs/heads/"):
        branch = branch[len("refs/heads/") :]
    match = _rc_matcher(config.branches.release_candidate).fullmatch(branch)
    return match.group(1) if match else None


def is_feature_branch(config: RepoConfig, branch: str) -> bool:
    """True when the branch matches the feature glob (fr/*)."""
    if branch.startswith("refs/heads/"):
        branch = branch[len("refs/heads/") :]
    try:
        return _feature_matcher(config.branches.feature).fullmatch(branch) is not None
    except ValueError:
        return False


def fr_ticket(config: RepoConfig, branch: str) -> str | None:
    """The FR ticket named in a branch (fr/FR-123-login -> "FR-123"), or None."""
    try:
        match = _compiled(config.merge_rules.fr_ticket_pattern).search(branch)
    except ValueError:
        return None
    return match.group(0) if match else None


def target_version_of_label(config: RepoConfig, label: str) -> str | None:
    """The version a cherry-pick target label asks for (cherry-pick/1.5 -> "1.5"); None for other labels."""
    return _version_after(config.labels.cherry_pick_prefix, label)


def rc_label(config: RepoConfig, version: str) -> str:
    """The label that marks issues belonging to an RC: rc/1.5."""
    return f"{config.labels.rc_prefix}{version}"


def rc_version_of_label(config: RepoConfig, label: str) -> str | None:
    """The version an RC label names (rc/1.5 -> "1.5"); None for other labels."""
    return _version_after(config.labels.rc_prefix, label)


def release_tag(config: RepoConfig, version: str, patch: int) -> str:
    """The tag of a promotion: v1.5.0 for the first one of rc/1.5."""
    return config.release.tag.replace("{version}", version).replace("{patch}", str(patch))


def _version_after(prefix: str, label: str) -> str | None:
    # GitHub compares label names without regard to case.
    if not label.lower().startswith(prefix.lower()):
        return None
    rest = label[len(prefix) :]
    return rest if is_version(rest) else None


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
