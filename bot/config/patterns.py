"""The config's patterns: the feature-branch glob and the FR ticket regex, compiled with RE2 so none can hang the bot."""

from __future__ import annotations

import functools
import re
from typing import Any

import re2

from bot.config.schema import RepoConfig

_HEADS = "refs/heads/"


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
    compiled(regex)
    return regex


@functools.lru_cache(maxsize=256)
def compiled(pattern: str) -> Any:
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
    return compiled(glob_regex(glob))


def is_feature_branch(config: RepoConfig, branch: str) -> bool:
    """True when the branch matches the feature glob (fr/*)."""
    if branch.startswith(_HEADS):
        branch = branch[len(_HEADS) :]
    try:
        return _feature_matcher(config.branches.feature).fullmatch(branch) is not None
    except ValueError:
        return False


def fr_ticket(config: RepoConfig, branch: str) -> str | None:
    """The FR ticket named in a branch (fr/FR-123-login -> "FR-123"), or None."""
    try:
        match = compiled(config.merge_rules.fr_ticket_pattern).search(branch)
    except ValueError:
        return None
    return match.group(0) if match else None
