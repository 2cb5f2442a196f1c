"""What a valid configuration means, in sentences: the config check and `check-config` show it, so a typo that parses is seen."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from bot.config.schema import MergeRules, RepoConfig
from bot.roles import describe_role
from bot.rules.gate import unpinned_checks, unpinned_warning
from bot.rules.release_state import REGRESSION_CHECK

_ROLE_WORDS = (("qa", "QA"), ("rte", "RTE"), ("pdm", "PdM"))


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _plain(text: str) -> str:
    return text.replace("`", "")


def _and(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def config_sentences(config: RepoConfig, *, markdown: bool = True) -> tuple[str, ...]:
    """The config as sentences, one a line; names in code spans (markdown) or bare (a terminal)."""
    code: Callable[[str], str] = _code if markdown else (lambda text: text)
    b, labels, names = config.branches, config.labels, config.names
    production = (
        f"`/promote` fast-forwards {code(b.production)}" if b.production else "`/promote` moves no production branch"
    )
    sentences = [
        f"Feature branches match {code(b.feature)} and merge into {code(b.devel)}; release candidates are "
        f"cut as {code(names.rc_branch('1.5'))} for version 1.5, and {production}.",
        f"QA marks a fix verified with {code(labels.verified)}, PdM or the RTE marks a feature ready with "
        f"{code(labels.fr_ready)}, and {code(names.target_label('1.5'))} asks for a pick into "
        f"{code(names.rc_branch('1.5'))}.",
    ]
    for role, word in _ROLE_WORDS:
        sentences.append(f"The {word} role is held by {describe_role(config, role)}.")
    checks = []
    for check in config.gate.required_checks:
        if check.app is not None:
            checks.append(f"{code(check.name)} (from the app {code(check.app)})")
        elif check.name == REGRESSION_CHECK:
            checks.append(f"QA's {code(check.name)}")
        else:
            checks.append(code(check.name))
    signoff = "with PdM's sign-off" if config.gate.require_signoff else "without a sign-off"
    sentences.append(f"The gate requires {_and(checks)} to pass on the RC head, {signoff}.")
    for value, words in ((False, "turned off"), (True, "turned on")):
        changed = [
            code(f.name)
            for f in dataclasses.fields(MergeRules)
            if f.default is not value and getattr(config.merge_rules, f.name) is value
        ]
        if changed:
            rules = "merge rule" if len(changed) == 1 else "merge rules"
            verb = "is" if len(changed) == 1 else "are"
            sentences.append(f"The {rules} {_and(changed)} {verb} {words}.")
    handoff = _and([code("@" + member.lstrip("@")) for member in config.release.handoff])
    sentences.append(
        f"Promoting RC 1.5 tags {code(names.tag('1.5', 0))}, creates a {code(config.release.environment)} "
        + (f"deployment and hands over to {handoff}." if handoff else "deployment and mentions no one at the hand-off.")
    )
    return tuple(sentence if markdown else _plain(sentence) for sentence in sentences)


def config_warnings(config: RepoConfig, *, markdown: bool = True) -> tuple[str, ...]:
    """What a valid config lets through that a person should know: required checks any writer can post."""
    warning = unpinned_warning(unpinned_checks(config.gate.required_checks))
    return (warning if markdown else _plain(warning),) if warning else ()
