"""config_sentences: what a valid config means, in sentences (a table), as the config check and check-config show it."""

from __future__ import annotations

import pytest

from bot.config import parse_config
from bot.config.summary import config_sentences, config_warnings

DEFAULTS = (
    "Feature branches match `fr/*` and merge into `devel`; release candidates are cut as `rc/1.5` for version "
    "1.5, and `/promote` moves no production branch.",
    "QA marks a fix verified with `qa/verified`, PdM or the RTE marks a feature ready with `fr/ready`, and "
    "`cherry-pick/1.5` asks for a pick into `rc/1.5`.",
    "The QA role is held by the repository's admins and maintainers.",
    "The RTE role is held by the repository's admins and maintainers.",
    "The PdM role is held by the repository's admins and maintainers.",
    "The gate requires `sanity`, QA's `regression` and `nightly` to pass on the RC head, without a sign-off.",
    "Promoting RC 1.5 tags `v1.5.0`, creates a `production` deployment and mentions no one at the hand-off.",
)


def sentences(text: str) -> tuple[str, ...]:
    config = parse_config(text).config
    assert config is not None
    return config_sentences(config)


def changed(text: str) -> list[str]:
    """The sentences that differ from the defaults' (and the ones added)."""
    return [s for s in sentences(text) if s not in DEFAULTS]


def test_the_defaults():
    assert sentences("") == DEFAULTS


CASES = [
    (
        "branches",
        "branches:\n  devel: develop\n  feature: 'feature/*'\n  release_candidate: 'release/{version}'\n"
        "  production: prod\n",
        [
            "Feature branches match `feature/*` and merge into `develop`; release candidates are cut as "
            "`release/1.5` for version 1.5, and `/promote` fast-forwards `prod`.",
            "QA marks a fix verified with `qa/verified`, PdM or the RTE marks a feature ready with `fr/ready`, and "
            "`cherry-pick/1.5` asks for a pick into `release/1.5`.",
        ],
    ),
    (
        "labels",
        "labels:\n  verified: qa-ok\n  fr_ready: ready\n  cherry_pick_prefix: 'pick/'\n",
        [
            "QA marks a fix verified with `qa-ok`, PdM or the RTE marks a feature ready with `ready`, and "
            "`pick/1.5` asks for a pick into `rc/1.5`."
        ],
    ),
    (
        "roles",
        "roles:\n  qa: ['@acme/qa', carol]\n  rte: [acme/release]\n  pdm: ['@pam']\n",
        [
            "The QA role is held by members of `@acme/qa` or `@carol`.",
            "The RTE role is held by members of `@acme/release`.",
            "The PdM role is held by `@pam`.",
        ],
    ),
    (
        "gate",
        "gate:\n  required_checks: [{name: e2e, app: ci}, regression]\n  require_signoff: true\n",
        [
            "The gate requires `e2e` (from the app `ci`) and QA's `regression` to pass on the RC head, "
            "with PdM's sign-off."
        ],
    ),
    (
        "one check",
        "gate:\n  required_checks: regression\n",
        ["The gate requires QA's `regression` to pass on the RC head, without a sign-off."],
    ),
    (
        "merge rules",
        "merge_rules:\n  require_up_to_date: false\n  block_fr_into_rc: false\n  require_ticket_into_devel: true\n",
        [
            "The merge rules `require_up_to_date` and `block_fr_into_rc` are turned off.",
            "The merge rule `require_ticket_into_devel` is turned on.",
        ],
    ),
    (
        "release",
        "release:\n  tag: 'release-{version}.{patch}'\n  environment: prod\n  handoff: ['@acme/rops', acme/fe]\n",
        [
            "Promoting RC 1.5 tags `release-1.5.0`, creates a `prod` deployment and hands over to `@acme/rops` "
            "and `@acme/fe`."
        ],
    ),
]


@pytest.mark.parametrize("name,text,expected", CASES, ids=[c[0] for c in CASES])
def test_each_section_reads_as_a_sentence(name, text, expected):
    assert changed(text) == expected


@pytest.mark.parametrize("text", ["", *[c[1] for c in CASES]])
def test_every_line_is_a_sentence(text):
    for sentence in sentences(text):
        assert sentence[0].isupper() and sentence.endswith("."), sentence
    config = parse_config(text).config
    assert config is not None
    # A terminal gets the same sentences without code spans.
    assert config_sentences(config, markdown=False) == tuple(s.replace("`", "") for s in config_sentences(config))


def test_unpinned_checks_are_a_warning_of_their_own():
    config = parse_config("gate:\n  required_checks: [{name: e2e, app: ci}, regression, nightly]\n").config
    assert config is not None
    [warning] = config_warnings(config)
    assert warning.startswith("Required checks with no `app:` (`nightly`): any writer can post them")
    pinned = parse_config("gate:\n  required_checks: [{name: e2e, app: ci}, regression]\n").config
    assert pinned is not None and config_warnings(pinned) == ()
