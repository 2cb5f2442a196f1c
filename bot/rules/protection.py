"""What the gate needs GitHub itself to enforce, judged from what the app can read without administration (pure).

Three requirements (the README's *Security model*, "Setting up the protection", sets each up):
- the RC branch takes changes only through pull requests and requires `release-train/merge-rules`
  pinned to this app. A ruleset in force says both (`pull_request`, `required_status_checks` with
  `integration_id`). Classic protection's summary shows only its required checks; a check pinned to
  this app there is taken for both, since no commit reaches the branch without this app's verdict,
  which it gives only on pull requests.
- with `branches.production` set, only the app moves that branch: a ruleset in force with an `update`
  rule that this app may always bypass. Classic push restrictions cannot be read without the
  administration permission, so they are not taken for it.
- release tags are made only by the app: an active tag ruleset covering this RC's tags with
  `creation`, `update` and `deletion` rules that this app may always bypass.

Who else may bypass (admins may add themselves) is not shown to the app; that is the admins' right.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from wcmatch import glob

# The project's README (the manifest's `url`), at the section that sets the protection up.
SETUP_URL = "https://github.com/release-train/release-train#setting-up-the-protection"
_REF_MATCH = glob.GLOBSTAR | glob.DOTGLOB | glob.NEGATE | glob.BRACE
TAG_RULES = ("creation", "update", "deletion")


@dataclass(frozen=True)
class BranchRules:
    """A branch's guards as the app reads them."""

    branch: str
    rules: frozenset[str] = frozenset()  # types of the ruleset rules in force
    pinned: frozenset[tuple[str, int]] = frozenset()  # (context, app id) that rulesets in force require
    classic: bool = False  # classic protection is on
    classic_pinned: frozenset[tuple[str, int]] = frozenset()  # (context, app id) classic protection requires
    update_bypass: tuple[str, ...] = ()  # for each ruleset in force with an `update` rule: what the app may bypass


@dataclass(frozen=True)
class TagRuleset:
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    rules: frozenset[str] = frozenset()
    app_bypass: str = "never"  # always, pull_requests_only, never, exempt
    active: bool = True


@dataclass(frozen=True)
class ProtectionFacts:
    app_id: int
    merge_rules: str  # the check name (checks.merge_rules)
    rc: BranchRules
    tag: str  # a release tag of this RC (its first patch)
    tag_rulesets: tuple[TagRuleset, ...] = ()
    production: BranchRules | None = None  # None: no production branch configured


@dataclass(frozen=True)
class Finding:
    requirement: str
    ok: bool
    detail: str


def ref_matches(ref: str, include: Iterable[str], exclude: Iterable[str] = ()) -> bool:
    """Whether a ruleset's ref_name condition covers the ref ("refs/tags/v1.5.0"), as GitHub matches it."""

    def hit(pattern: str) -> bool:
        return pattern == "~ALL" or glob.globmatch(ref, pattern, flags=_REF_MATCH)

    return any(hit(p) for p in include) and not any(hit(p) for p in exclude)


def _rc_finding(facts: ProtectionFacts) -> Finding:
    rc = facts.rc
    check = (facts.merge_rules, facts.app_id)
    classic_pinned = rc.classic and check in rc.classic_pinned
    pull_requests_only = "pull_request" in rc.rules or classic_pinned
    pinned = check in rc.pinned or classic_pinned
    missing = []
    if not pull_requests_only:
        missing.append(f"changes reach `{rc.branch}` without a pull request")
    if not pinned:
        missing.append(f"`{facts.merge_rules}` is not required from this app, so any writer's status can stand in")
    requirement = f"`{rc.branch}` takes pull requests only"
    if missing:
        return Finding(requirement, False, "; ".join(missing))
    return Finding(requirement, True, f"pull requests only, `{facts.merge_rules}` from this app")


def _production_finding(production: BranchRules) -> Finding:
    requirement = f"only the app moves `{production.branch}`"
    if "update" not in production.rules:
        return Finding(requirement, False, f"no ruleset restricts who updates `{production.branch}`")
    if "always" not in production.update_bypass:
        return Finding(
            requirement, False, f"a ruleset restricts `{production.branch}`, but this app may not bypass it to promote"
        )
    return Finding(requirement, True, "restricted by a ruleset this app bypasses")


def _tag_finding(facts: ProtectionFacts) -> Finding:
    requirement = f"only the app makes release tags such as `{facts.tag}`"
    ref = f"refs/tags/{facts.tag}"
    covering = [r for r in facts.tag_rulesets if r.active and ref_matches(ref, r.include, r.exclude)]
    rules = frozenset().union(*(r.rules for r in covering)) if covering else frozenset()
    missing = [rule for rule in TAG_RULES if rule not in rules]
    if not covering:
        return Finding(requirement, False, f"no tag ruleset covers `{facts.tag}`")
    if missing:
        return Finding(requirement, False, "the tag ruleset does not restrict " + ", ".join(f"`{m}`" for m in missing))
    if not any(r.app_bypass == "always" for r in covering):
        return Finding(requirement, False, "a tag ruleset covers them, but this app may not bypass it to tag")
    return Finding(requirement, True, "restricted by a tag ruleset this app bypasses")


def protection_findings(facts: ProtectionFacts) -> tuple[Finding, ...]:
    """Each requirement, met or not, with its words."""
    found = [_rc_finding(facts)]
    if facts.production is not None:
        found.append(_production_finding(facts.production))
    found.append(_tag_finding(facts))
    return tuple(found)
