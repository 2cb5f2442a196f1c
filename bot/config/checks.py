"""What a type alone cannot say about a config: templates, patterns, names GitHub and git accept, fixed choices."""

from __future__ import annotations

import dataclasses
import re
import string
from collections.abc import Callable, Mapping
from typing import Any

from bot.config.patterns import compiled, glob_regex
from bot.config.schema import ConfigError, RepoConfig
from bot.rules import names

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

# Text that names no ticket: a ticket pattern that finds one in any of them finds one everywhere.
TICKETLESS_TEXTS = ("", "Update the login page", "fr/login")

# GitHub caps a label name at 50 characters.
LABEL_NAME_LIMIT = 50

_Report = Callable[[str, str], None]  # (dotted key, message)

_LOGIN = re.compile(r"@?[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_TEAM = re.compile(r"@?[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
# Characters git refuses in a branch name (the glob's own * ? [ are checked apart).
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:\\]|\.\.|@\{|//")


def check_values(config: RepoConfig, lines: Mapping[str, int]) -> list[ConfigError]:
    """Every value rule the config breaks, each naming its dotted key and (from lines) its line."""
    errors: list[ConfigError] = []

    def error(key: str, message: str) -> None:
        errors.append(ConfigError(lines.get(key), key, message))

    template_errors: set[str] = set()
    for key, (must, may) in TEMPLATES.items():
        section, name = key.split(".")
        if _check_template(error, key, getattr(getattr(config, section), name), must, may):
            template_errors.add(key)
    for key, words in CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        if value not in words:
            error(key, f"must be one of {', '.join(map(repr, words))}, got {value!r}")

    for name in ("devel", "production"):
        branch = getattr(config.branches, name)
        if branch is not None and _bad_branch(branch):
            error(f"branches.{name}", f"{branch!r} is not a valid branch name")
    rc_template = config.branches.release_candidate
    rc_example = names.rc_branch(rc_template, "1.5")
    if "{" not in rc_example and (_bad_branch(rc_example) or any(c in rc_example for c in "*?[")):
        error("branches.release_candidate", f"gives {rc_example!r} for version 1.5, which is not a valid branch name")
    elif "branches.release_candidate" not in template_errors and (problem := names.rc_template_problem(rc_template)):
        error("branches.release_candidate", problem)
    if "release.tag" not in template_errors and (problem := names.tag_template_problem(config.release.tag)):
        error("release.tag", problem)
    try:
        glob_regex(config.branches.feature)
    except ValueError as exc:
        error("branches.feature", f"is not a valid glob: {exc}")
    try:
        ticket = compiled(config.merge_rules.fr_ticket_pattern)
    except ValueError as exc:
        error("merge_rules.fr_ticket_pattern", f"is not a valid regular expression: {exc}")
    else:
        if problem := _matches_everything(ticket):
            error("merge_rules.fr_ticket_pattern", problem)
    # An item that could not be read is dropped from the list, and has its own error already.
    if not config.gate.required_checks and "gate.required_checks[0]" not in lines:
        error(
            "gate.required_checks",
            "is empty, so the gate would pass an RC that no check ran on; list at least `regression` (QA's result)",
        )

    for field_ in dataclasses.fields(config.labels):
        label = getattr(config.labels, field_.name)
        room = len("99.99") if field_.name.endswith("_prefix") else 0
        if isinstance(label, str) and len(label) + room > LABEL_NAME_LIMIT:
            error(
                f"labels.{field_.name}",
                f"is too long for a GitHub label ({LABEL_NAME_LIMIT} characters at most"
                + (", version included)" if room else ")"),
            )

    for role in dataclasses.fields(config.roles):
        for index, member in enumerate(getattr(config.roles, role.name)):
            key = f"roles.{role.name}[{index}]"
            if not (_LOGIN.fullmatch(member) or _TEAM.fullmatch(member)):
                error(key, f'{member!r} is neither a login nor "@org/team"')
    for index, member in enumerate(config.release.handoff):
        key = f"release.handoff[{index}]"
        if not (_LOGIN.fullmatch(member) or _TEAM.fullmatch(member)):
            error(key, f'{member!r} is neither a login nor "@org/team"')

    for index, dispatch in enumerate(config.release.on_rc_created):
        key = f"release.on_rc_created[{index}]"
        for name, value in dispatch.inputs:
            _check_template(error, f"{key}.inputs.{name}", value, frozenset(), DISPATCH_PLACEHOLDERS)
        if dispatch.ref is not None:
            _check_template(error, f"{key}.ref", dispatch.ref, frozenset(), DISPATCH_PLACEHOLDERS)
    return errors


def _matches_everything(ticket: Any) -> str | None:
    """Why a compiled ticket pattern accepts text that names no ticket, or None when it does not."""
    if ticket.search("") is not None:
        return "matches the empty text, so every branch and title would name a ticket (e.g. [A-Z]+-[0-9]+)"
    for text in TICKETLESS_TEXTS:
        found = next((m.group(0) for m in ticket.finditer(text) if m.group(0)), None)
        if found:
            return (
                f"finds a ticket ({found!r}) in {text!r}, which names none, so every branch and title would "
                "pass; a ticket pattern needs what only a ticket has (e.g. [A-Z]+-[0-9]+)"
            )
    return None


def _placeholders(template: str) -> set[str]:
    """The {names} a str.format template uses; raises ValueError on a malformed one."""
    found = set()
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"{{{name}}} is not a plain placeholder")
        found.add(name)
    return found


def _check_template(error: _Report, key: str, template: str, must: frozenset[str], may: frozenset[str]) -> bool:
    """Reports what is wrong with a template's placeholders; True when something was."""
    try:
        used = _placeholders(template)
    except ValueError as exc:
        error(key, f"is not a valid template: {exc}")
        return True
    wrong = False
    for name in sorted(used - may):
        allowed = ", ".join("{" + m + "}" for m in sorted(may)) or "none"
        error(key, f"unknown placeholder {{{name}}} (allowed: {allowed})")
        wrong = True
    for name in sorted(must - used):
        error(key, f"must contain {{{name}}}")
        wrong = True
    return wrong


def _bad_branch(name: str) -> bool:
    return bool(
        _BAD_REF_CHARS.search(name)
        or name.startswith(("-", "/", "."))
        or name.endswith(("/", ".", ".lock"))
        or name == "@"
    )
