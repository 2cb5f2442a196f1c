"""Tables for what the gate asks GitHub to enforce: the RC branch, the production branch and the release tags."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.rules.protection import (
    SETUP_URL,
    BranchRules,
    ProtectionFacts,
    TagRuleset,
    protection_findings,
    ref_matches,
)

APP = 7
MERGE = "release-train/merge-rules"
RC_OK = BranchRules(
    "rc/1.5", rules=frozenset({"pull_request", "required_status_checks"}), pinned=frozenset({(MERGE, APP)})
)
PROD_OK = BranchRules("production", rules=frozenset({"update"}), update_bypass=("always",))
TAGS_OK = TagRuleset(("refs/tags/v*",), rules=frozenset({"creation", "update", "deletion"}), app_bypass="always")


def facts(rc=RC_OK, production=PROD_OK, tags=(TAGS_OK,), tag="v1.5.0"):
    return ProtectionFacts(APP, MERGE, rc, tag, tuple(tags), production)


@pytest.mark.parametrize(
    ("rc", "ok"),
    [
        (RC_OK, True),
        (BranchRules("rc/1.5"), False),  # nothing in force
        (BranchRules("rc/1.5", rules=frozenset({"pull_request"})), False),  # merge-rules not required
        (BranchRules("rc/1.5", rules=frozenset({"pull_request"}), pinned=frozenset({(MERGE, 99)})), False),  # other app
        (BranchRules("rc/1.5", rules=frozenset({"required_status_checks"}), pinned=frozenset({(MERGE, APP)})), False),
        (BranchRules("rc/1.5", classic=True, classic_pinned=frozenset({(MERGE, APP)})), True),
        (BranchRules("rc/1.5", classic=True, classic_pinned=frozenset({(MERGE, 99)})), False),
        (BranchRules("rc/1.5", classic=False, classic_pinned=frozenset({(MERGE, APP)})), False),  # not enabled
        (BranchRules("rc/1.5", classic=True, classic_pinned=frozenset({("other", APP)})), False),
    ],
)
def test_the_rc_takes_pull_requests_with_merge_rules_from_this_app(rc, ok):
    [rc_found, *_] = protection_findings(facts(rc=rc))
    assert rc_found.ok is ok and "rc/1.5" in rc_found.requirement


@pytest.mark.parametrize(
    ("production", "ok", "words"),
    [
        (PROD_OK, True, "bypasses"),
        (BranchRules("production"), False, "no ruleset restricts"),
        (BranchRules("production", rules=frozenset({"update"}), update_bypass=("never",)), False, "may not bypass"),
        (BranchRules("production", rules=frozenset({"update"}), update_bypass=("never", "always")), True, ""),
        # classic protection's push restrictions are not readable, so classic alone is not enough
        (BranchRules("production", classic=True), False, "no ruleset restricts"),
    ],
)
def test_only_the_app_moves_production(production, ok, words):
    found = protection_findings(facts(production=production))
    [prod] = [f for f in found if "production" in f.requirement]
    assert prod.ok is ok and words in prod.detail


def test_no_production_branch_asks_nothing_of_it():
    assert [f.requirement for f in protection_findings(facts(production=None))] == [
        "`rc/1.5` takes pull requests only",
        "only the app makes release tags such as `v1.5.0`",
    ]


@pytest.mark.parametrize(
    ("tags", "ok", "words"),
    [
        ((TAGS_OK,), True, "bypasses"),
        ((), False, "no tag ruleset covers"),
        ((TagRuleset(("refs/tags/release-*",), rules=TAGS_OK.rules, app_bypass="always"),), False, "covers"),
        ((TagRuleset(("refs/tags/v*",), ("refs/tags/v1.*",), TAGS_OK.rules, "always"),), False, "covers"),
        ((TagRuleset(("refs/tags/v*",), rules=frozenset({"creation"}), app_bypass="always"),), False, "`update`"),
        ((TagRuleset(("refs/tags/v*",), rules=TAGS_OK.rules, app_bypass="never"),), False, "may not bypass"),
        ((TagRuleset(("refs/tags/v*",), rules=TAGS_OK.rules, app_bypass="always", active=False),), False, "covers"),
        # two rulesets together: one restricts creation, another update and deletion and lets the app through
        (
            (
                TagRuleset(("~ALL",), rules=frozenset({"creation"})),
                TagRuleset(("refs/tags/**",), rules=frozenset({"update", "deletion"}), app_bypass="always"),
            ),
            True,
            "",
        ),
    ],
)
def test_only_the_app_makes_release_tags(tags, ok, words):
    [*_, tag] = protection_findings(facts(tags=tags))
    assert tag.ok is ok and words in tag.detail


@pytest.mark.parametrize(
    ("ref", "include", "exclude", "hit"),
    [
        ("refs/tags/v1.5.0", ["refs/tags/v*"], [], True),
        ("refs/tags/v1.5.0", ["refs/tags/*"], [], True),
        ("refs/tags/team/v1.5.0", ["refs/tags/*"], [], False),  # * stops at a slash, as on GitHub
        ("refs/tags/team/v1.5.0", ["refs/tags/**"], [], True),
        ("refs/tags/v1.5.0", ["~ALL"], [], True),
        ("refs/tags/v1.5.0", ["~ALL"], ["refs/tags/v1.*"], False),
        ("refs/tags/v1.5.0", [], [], False),
    ],
)
def test_ref_patterns_match_as_githubs_do(ref, include, exclude, hit):
    assert ref_matches(ref, include, exclude) is hit


def test_the_setup_link_is_the_projects_readme_section():
    root = Path(__file__).resolve().parents[1]
    manifest = yaml.safe_load((root / "bot" / "app.yml").read_text())
    url, anchor = SETUP_URL.split("#")
    assert url == manifest["url"]
    assert "### Setting up the protection" in (root / "README.md").read_text() and anchor == "setting-up-the-protection"
