"""parse_config: every key, every kind of error with its line, and the names derived from the config."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from bot.config import (
    Branches,
    ConfigError,
    RepoConfig,
    RequiredCheck,
    WorkflowDispatch,
    fr_ticket,
    glob_regex,
    is_feature_branch,
    parse_config,
)

FULL = """\
branches:
  devel: develop
  feature: "feature/*"
  release_candidate: "release/{version}"
  production: prod
labels:
  verified: qa-ok
  cherry_pick_prefix: "pick/"
  picked: picked
  conflict: pick-conflict
  fr_ready: ready
  blocker: blocker
  rc_prefix: "for/"
  bug: defect
  tracking: train
  released: shipped
  hold: hold
  status: train/status
checks:
  merge_rules: rt/merge
  gate: rt/gate
  cherry_pick: rt/pick
  config: rt/config
  signoff: rt/signoff
  release: rt/release
  verified: rt/verified
merge_rules:
  fr_ticket_pattern: "JIRA-[0-9]+"
  require_ticket_into_fr: false
  require_children_merged: false
  require_up_to_date: false
  require_ready_label: false
  require_verified_into_rc: false
  require_bug_reference_into_rc: false
  block_fr_into_rc: false
  require_ticket_into_devel: true
cherry_pick:
  auto_merge: true
  auto_merge_method: rebase
roles:
  qa: ["@acme/qa", carol]
  rte: "@acme/rte"
  pdm: [dave]
gate:
  required_checks: [sanity, {name: regression, app: my-ci}]
  require_signoff: true
  require_protection: true
release:
  tag: "release-{version}-{patch}"
  environment: prod
  handoff: ["@acme/rops", "@acme/fe"]
  on_rc_created:
    - workflow: build-images.yml
      inputs: {version: "{version}", sha: "{sha}", push: true}
    - workflow: "1234"
      ref: main
  tracking_title: "Ship {version}"
"""


def test_every_key_is_read():
    result = parse_config(FULL)
    assert result.errors == ()
    c = result.config
    assert c.branches == Branches("develop", "feature/*", "release/{version}", "prod")
    assert (c.labels.verified, c.labels.cherry_pick_prefix, c.labels.picked, c.labels.conflict) == (
        "qa-ok",
        "pick/",
        "picked",
        "pick-conflict",
    )
    assert (c.labels.fr_ready, c.labels.blocker, c.labels.rc_prefix, c.labels.bug) == (
        "ready",
        "blocker",
        "for/",
        "defect",
    )
    assert (c.labels.tracking, c.labels.released, c.labels.hold, c.labels.status) == (
        "train",
        "shipped",
        "hold",
        "train/status",
    )
    assert dataclasses.astuple(c.checks) == (
        "rt/merge",
        "rt/gate",
        "rt/pick",
        "rt/config",
        "rt/signoff",
        "rt/release",
        "rt/verified",
    )
    assert c.merge_rules.fr_ticket_pattern == "JIRA-[0-9]+"
    assert c.merge_rules.require_ticket_into_devel is True
    assert not any(
        getattr(c.merge_rules, f.name)
        for f in dataclasses.fields(c.merge_rules)
        if f.name not in ("fr_ticket_pattern", "require_ticket_into_devel")
    )
    assert c.cherry_pick.auto_merge is True and c.cherry_pick.auto_merge_method == "rebase"
    assert c.roles.qa == ("@acme/qa", "carol")
    assert c.roles.rte == ("@acme/rte",)  # a single string is a list of one
    assert c.roles.pdm == ("dave",)
    assert c.gate.required_checks == (RequiredCheck("sanity"), RequiredCheck("regression", "my-ci"))
    assert c.gate.require_signoff is True
    assert c.gate.require_protection is True
    assert c.release.tag == "release-{version}-{patch}"
    assert c.release.environment == "prod"
    assert c.release.handoff == ("@acme/rops", "@acme/fe")
    assert c.release.on_rc_created == (
        WorkflowDispatch("build-images.yml", (("version", "{version}"), ("sha", "{sha}"), ("push", "true"))),
        WorkflowDispatch("1234", (), "main"),
    )
    assert c.release.tracking_title == "Ship {version}"


def test_every_key_is_known_to_the_parser():
    # The full example sets every field of every section (a new field must join the example).
    import yaml

    doc = yaml.safe_load(FULL)
    for section in dataclasses.fields(RepoConfig):
        cls = type(getattr(RepoConfig(), section.name))
        assert set(doc[section.name]) == {f.name for f in dataclasses.fields(cls)}, section.name


@pytest.mark.parametrize(
    "text",
    [None, "", "   \n", "# only a comment\n", b"", "---\n"],
)
def test_empty_means_defaults(text):
    assert parse_config(text).config == RepoConfig()
    assert parse_config(text).ok


def test_sections_may_be_empty_or_partial():
    result = parse_config("labels:\nbranches:\n  devel: main\n")
    assert result.errors == ()
    assert result.config.labels == RepoConfig().labels
    assert result.config.branches.devel == "main"
    assert result.config.branches.feature == "fr/*"


def test_workflow_shorthand():
    result = parse_config("release:\n  on_rc_created: [build.yml]\n")
    assert result.config.release.on_rc_created == (WorkflowDispatch("build.yml"),)


def test_empty_role_list_and_null_role():
    result = parse_config("roles:\n  qa: []\n  rte:\n")
    assert result.errors == ()
    assert result.config.roles.qa == () and result.config.roles.rte == ()


def error(text: str) -> list[tuple[int | None, str, str]]:
    result = parse_config(textwrap.dedent(text))
    assert result.config is None, "a broken file yields no config"
    return [(e.line, e.key, e.message) for e in result.errors]


ERROR_CASES = [
    # unknown keys, with a suggestion when one is close
    ("labels:\n  verfied: x\n", [(2, "labels.verfied", "unknown key (did you mean 'verified'?)")]),
    ("lables:\n  verified: x\n", [(1, "lables", "unknown key (did you mean 'labels'?)")]),
    (
        "branches:\n  zzz: x\n",
        [(2, "branches.zzz", "unknown key (known keys: devel, feature, release_candidate, production)")],
    ),
    (
        "gate:\n  required_checks:\n    - {name: a, ap: b}\n",
        [(3, "gate.required_checks[0].ap", "unknown key (did you mean 'app'?)")],
    ),
    (
        "release:\n  on_rc_created:\n    - {workflow: a, input: {}}\n",
        [(3, "release.on_rc_created[0].input", "unknown key (did you mean 'inputs'?)")],
    ),
    # wrong types
    ("branches:\n  devel: 1.5\n", [(2, "branches.devel", 'expected text, got the number 1.5 (quote it: "1.5")')]),
    ("branches:\n  production: [a]\n", [(2, "branches.production", "expected text, got a list")]),
    (
        "labels:\n  verified: true\n",
        [(2, "labels.verified", "expected text, got 'true' (true/false) (quote it: \"true\")")],
    ),
    ("labels:\n  verified:\n", [(2, "labels.verified", "expected text, got nothing (null)")]),
    ("labels:\n  verified: ''\n", [(2, "labels.verified", "must not be empty")]),
    (
        "merge_rules:\n  require_ticket_into_devel: sometimes\n",
        [(2, "merge_rules.require_ticket_into_devel", "expected true or false, got the text 'sometimes'")],
    ),
    (
        "merge_rules:\n  block_fr_into_rc: 1\n",
        [(2, "merge_rules.block_fr_into_rc", "expected true or false, got the number 1")],
    ),
    ("roles:\n  qa: {team: x}\n", [(2, "roles.qa[0]", "expected text, got a mapping")]),
    ("roles:\n  qa: [alice, 7]\n", [(2, "roles.qa[1]", 'expected text, got the number 7 (quote it: "7")')]),
    ("gate:\n  required_checks: {name: a}\n", []),  # a single mapping is a list of one (checked below)
    ("gate:\n  required_checks:\n    - {app: x}\n", [(3, "gate.required_checks[0].name", "is required")]),
    (
        "release:\n  on_rc_created:\n    - workflow: a\n      inputs: [x]\n",
        [(4, "release.on_rc_created[0].inputs", "expected a mapping of names to values, got a list")],
    ),
    (
        "release:\n  on_rc_created:\n    - workflow: a\n      inputs: {x: [1]}\n",
        [(4, "release.on_rc_created[0].inputs.x", "expected a plain value, got a list")],
    ),
    ("labels: [a, b]\n", [(1, "labels", "expected a mapping, got a list")]),
    ("labels: qa/verified\n", [(1, "labels", "expected a mapping, got the text 'qa/verified'")]),
    # duplicates
    ("labels:\n  bug: a\n  bug: b\n", [(3, "labels.bug", "duplicate key (first set on line 2)")]),
    # the top level
    ("- a\n- b\n", [(1, "", "the top level must be a mapping of sections (branches, labels, ...), got a list")]),
    (
        "just text\n",
        [(1, "", "the top level must be a mapping of sections (branches, labels, ...), got the text 'just text'")],
    ),
    # invalid YAML names the line
    ("labels:\n  verified: [a\n  bug: b\n", [(3, "", "invalid YAML: expected ',' or ']', but got ':' (column 6)")]),
    (
        "labels:\n\tverified: x\n",
        [(2, "", "invalid YAML: found character '\\t' that cannot start any token (column 1)")],
    ),
    (
        "a: 1\n---\nb: 2\n",
        [(2, "", "invalid YAML: expected a single document in the stream, but found another document (column 1)")],
    ),
    # patterns, compiled with RE2
    (
        "merge_rules:\n  fr_ticket_pattern: '(A+'\n",
        [(2, "merge_rules.fr_ticket_pattern", "is not a valid regular expression: missing ): (A+")],
    ),
    (
        "merge_rules:\n  fr_ticket_pattern: '(?=A)B'\n",
        [(2, "merge_rules.fr_ticket_pattern", "is not a valid regular expression: invalid perl operator: (?=")],
    ),
    (
        "branches:\n  feature: 'fr/[ab'\n",
        [(2, "branches.feature", "is not a valid glob: '[' at position 4 is never closed")],
    ),
    (
        "branches:\n  feature: 'fr/a b'\n",
        [(2, "branches.feature", "is not a valid glob: ' ' cannot appear in a branch name")],
    ),
    (
        "branches:\n  feature: 'fr/[z-a]'\n",
        [(2, "branches.feature", "is not a valid glob: invalid character class range: z-a")],
    ),
    # templates
    (
        "branches:\n  release_candidate: 'rc/{ver}'\n",
        [
            (2, "branches.release_candidate", "unknown placeholder {ver} (allowed: {version})"),
            (2, "branches.release_candidate", "must contain {version}"),
        ],
    ),
    ("branches:\n  release_candidate: 'rc'\n", [(2, "branches.release_candidate", "must contain {version}")]),
    (
        "branches:\n  release_candidate: 'rc {version}'\n",
        [(2, "branches.release_candidate", "gives 'rc 1.5' for version 1.5, which is not a valid branch name")],
    ),
    ("release:\n  tag: 'v{version}'\n", [(2, "release.tag", "must contain {patch}")]),
    (
        "release:\n  tag: 'v{version}.{patch'\n",
        [(2, "release.tag", "is not a valid template: expected '}' before end of string")],
    ),
    (
        "release:\n  tag: 'v{version!r}.{patch}'\n",
        [(2, "release.tag", "is not a valid template: {version} is not a plain placeholder")],
    ),
    (
        "release:\n  tracking_title: 'Release {version} {date}'\n",
        [(2, "release.tracking_title", "unknown placeholder {date} (allowed: {sha}, {version})")],
    ),
    (
        "release:\n  on_rc_created:\n    - workflow: a\n      inputs: {v: '{tag}'}\n",
        [(4, "release.on_rc_created[0].inputs.v", "unknown placeholder {tag} (allowed: {sha}, {version})")],
    ),
    (
        "release:\n  on_rc_created:\n    - workflow: a\n      ref: '{branch}'\n",
        [(4, "release.on_rc_created[0].ref", "unknown placeholder {branch} (allowed: {sha}, {version})")],
    ),
    # choices, names
    (
        "cherry_pick:\n  auto_merge_method: fast-forward\n",
        [(2, "cherry_pick.auto_merge_method", "must be one of 'merge', 'squash', 'rebase', got 'fast-forward'")],
    ),
    ("branches:\n  devel: 'dev..el'\n", [(2, "branches.devel", "'dev..el' is not a valid branch name")]),
    ("branches:\n  production: 'prod/'\n", [(2, "branches.production", "'prod/' is not a valid branch name")]),
    (
        "labels:\n  verified: '" + "x" * 51 + "'\n",
        [(2, "labels.verified", "is too long for a GitHub label (50 characters at most)")],
    ),
    (
        "labels:\n  rc_prefix: '" + "x" * 46 + "'\n",
        [(2, "labels.rc_prefix", "is too long for a GitHub label (50 characters at most, version included)")],
    ),
    (
        "roles:\n  qa: ['@acme/qa', 'not a login']\n",
        [(2, "roles.qa[1]", "'not a login' is neither a login nor \"@org/team\"")],
    ),
    ("release:\n  handoff: ['@@x']\n", [(2, "release.handoff[0]", "'@@x' is neither a login nor \"@org/team\"")]),
]


@pytest.mark.parametrize("text,expected", ERROR_CASES, ids=[c[0][:40] for c in ERROR_CASES])
def test_errors_name_the_key_and_the_line(text, expected):
    if not expected:
        assert parse_config(text).ok
        return
    assert error(text) == expected


def test_several_errors_are_all_reported_in_line_order():
    text = "labels:\n  verfied: x\nbranches:\n  devel: 3\nroles:\n  qa: '@a/b'\n  boss: [x]\n"
    assert [(e.line, e.key) for e in parse_config(text).errors] == [
        (2, "labels.verfied"),
        (4, "branches.devel"),
        (7, "roles.boss"),
    ]


def test_error_text_matches_the_documented_form():
    result = parse_config("a: 1\n" * 6 + "labels:\n  verfied: x\n")
    assert "line 8: labels.verfied: unknown key (did you mean 'verified'?)" in [str(e) for e in result.errors]
    assert (
        str(ConfigError(None, "", "the file is not UTF-8 text (byte 0)")) == "file: the file is not UTF-8 text (byte 0)"
    )


def test_bytes_and_limits():
    assert parse_config(b"labels:\n  bug: defect\n").config.labels.bug == "defect"
    assert [str(e) for e in parse_config(b"\xffoops").errors] == ["file: the file is not UTF-8 text (byte 0)"]
    assert not parse_config("# x\n" * 100_000).ok


def test_yaml_tags_and_aliases_are_not_trusted():
    assert error("labels:\n  verified: !!python/object:os.system x\n") == [
        (2, "labels.verified", "expected text, got a value tagged tag:yaml.org,2002:python/object:os.system")
    ]
    # An alias bomb cannot blow up: lists of lists are not a type any key accepts.
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n"
    bomb += "roles:\n  qa: [*c, *c, *c, *c, *c, *c, *c, *c]\n"
    errors = parse_config(bomb).errors
    assert errors[0].key == "a" and len(errors) == 3 + 8


def test_catastrophic_pattern_is_harmless_with_re2():
    result = parse_config("merge_rules:\n  fr_ticket_pattern: '(a+)+$'\n")
    assert result.ok
    # RE2 runs in linear time: the classic exponential case answers at once.
    assert fr_ticket(result.config, "fr/" + "a" * 5000 + "!") is None


# derived names -------------------------------------------------------------------------------

DEFAULT = RepoConfig()
CUSTOM = parse_config(FULL).config


@pytest.mark.parametrize(
    "config,version,branch",
    [(DEFAULT, "1.5", "rc/1.5"), (CUSTOM, "2.10", "release/2.10")],
)
def test_rc_branch_name_round_trips(config, version, branch):
    assert config.names.rc_branch(version) == branch
    assert config.names.rc_version_of(branch) == version
    assert config.names.rc_version_of("refs/heads/" + branch) == version


@pytest.mark.parametrize(
    "branch", ["rc/1", "rc/1.5.1", "rc/a.b", "rc/1.5-hotfix", "xrc/1.5", "devel", "rc/", "release/1.5"]
)
def test_rc_version_of_other_branches(branch):
    assert DEFAULT.names.rc_version_of(branch) is None


def test_rc_template_with_regex_characters_is_literal():
    config = parse_config("branches:\n  release_candidate: 'rc+{version}.x'\n").config
    assert config.names.rc_version_of("rc+1.5.x") == "1.5"
    assert config.names.rc_version_of("rcc1.5.x") is None


@pytest.mark.parametrize(
    "glob,branch,expected",
    [
        ("fr/*", "fr/FR-123-login", True),
        ("fr/*", "fr/team/FR-1", True),
        ("fr/*", "fr", False),
        ("fr/*", "devel", False),
        ("fr/*", "xfr/a", False),
        ("feature-?", "feature-a", True),
        ("feature-?", "feature-ab", False),
        ("fr/[A-Z]*", "fr/X1", True),
        ("fr/[!A-Z]*", "fr/X1", False),
        ("fr/[!A-Z]*", "fr/x1", True),
        ("a.b/*", "aXb/c", False),
    ],
)
def test_feature_glob(glob, branch, expected):
    config = RepoConfig(branches=Branches(feature=glob))
    assert is_feature_branch(config, branch) is expected
    assert glob_regex(glob)


@pytest.mark.parametrize(
    "branch,ticket",
    [("fr/FR-123-login", "FR-123"), ("fr/login", None), ("fr/ab-12", None), ("fr/ABC-1-DEF-2", "ABC-1")],
)
def test_fr_ticket(branch, ticket):
    assert fr_ticket(DEFAULT, branch) == ticket


@pytest.mark.parametrize(
    "label,version",
    [
        ("cherry-pick/1.5", "1.5"),
        ("Cherry-Pick/1.5", "1.5"),
        ("cherry-pick/12.0", "12.0"),
        ("cherry-pick/next", None),
        ("cherry-pick/1.5.2", None),
        ("cherry-pick", None),
        ("cherry-pick-conflict", None),
        ("rc/1.5", None),
    ],
)
def test_target_version_of_label(label, version):
    assert DEFAULT.names.target_version_of(label) == version


def test_rc_labels_and_tags():
    assert DEFAULT.names.rc_label("1.5") == "rc/1.5"
    assert CUSTOM.names.rc_label("1.5") == "for/1.5"
    assert DEFAULT.names.rc_version_of_label("rc/1.5") == "1.5"
    assert DEFAULT.names.rc_version_of_label("rc/next") is None
    assert DEFAULT.names.tag("1.5", 0) == "v1.5.0"
    assert CUSTOM.names.tag("1.5", 2) == "release-1.5-2"
    assert CUSTOM.names.parse_tag("release-1.5-2") == ("1.5", 2)


@pytest.mark.parametrize("config", [RepoConfig(), CUSTOM], ids=["defaults", "custom"])
def test_config_to_dict_round_trips_through_yaml(config):
    # Every field type the dataclasses use must be readable: a new field with a new type fails here.
    import yaml

    from bot.config import config_to_dict

    assert parse_config(yaml.safe_dump(config_to_dict(config), sort_keys=False)) == parse_config(
        yaml.safe_dump(config_to_dict(config), sort_keys=False)
    )
    assert parse_config(yaml.safe_dump(config_to_dict(config), sort_keys=False)).config == config


def test_the_readme_config_examples_are_valid_and_the_first_is_the_defaults():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = [part.split("```", 1)[0] for part in readme.split("```yaml\n")[1:]]
    assert len(blocks) >= 2
    for block in blocks:
        assert parse_config(block).errors == (), block
    assert parse_config(blocks[0]).config == RepoConfig()


def test_the_projects_own_config_is_valid():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / ".github" / "release-train.yml"
    assert parse_config(path.read_text()).errors == ()


# -- silent mistakes: each one accepted on purpose (and documented in the README) or reported -------------

EMPTY_GATE = "is empty, so the gate would pass an RC that no check ran on; list at least `regression` (QA's result)"


def everything(found: str, text: str) -> str:
    return (
        f"finds a ticket ({found!r}) in {text!r}, which names none, so every branch and title would pass; "
        "a ticket pattern needs what only a ticket has (e.g. [A-Z]+-[0-9]+)"
    )


EMPTY_TEXT = "matches the empty text, so every branch and title would name a ticket (e.g. [A-Z]+-[0-9]+)"

SILENT_MISTAKES = [
    # accepted: a single name stands for a list of one
    ("role as a string", "roles:\n  qa: '@acme/qa'\n", lambda c: c.roles.qa == ("@acme/qa",), []),
    (
        "check as a string",
        "gate:\n  required_checks: regression\n",
        lambda c: c.gate.required_checks == (RequiredCheck("regression"),),
        [],
    ),
    # accepted: a team without @ is the same team, a login with @ the same login
    ("team without @", "roles:\n  qa: [acme/qa, '@dana']\n", lambda c: c.roles.qa == ("acme/qa", "@dana"), []),
    # reported: an empty required_checks
    ("empty required_checks", "gate:\n  required_checks: []\n", None, [(2, "gate.required_checks", EMPTY_GATE)]),
    ("null required_checks", "gate:\n  required_checks:\n", None, [(2, "gate.required_checks", EMPTY_GATE)]),
    # reported: ticket patterns that match everything
    (
        "ticket .*",
        "merge_rules:\n  fr_ticket_pattern: '.*'\n",
        None,
        [(2, "merge_rules.fr_ticket_pattern", EMPTY_TEXT)],
    ),
    (
        "ticket x*",
        "merge_rules:\n  fr_ticket_pattern: 'x*'\n",
        None,
        [(2, "merge_rules.fr_ticket_pattern", EMPTY_TEXT)],
    ),
    (
        "ticket \\w+",
        "merge_rules:\n  fr_ticket_pattern: '\\w+'\n",
        None,
        [(2, "merge_rules.fr_ticket_pattern", everything("Update", "Update the login page"))],
    ),
    (
        "ticket [a-z]+",
        "merge_rules:\n  fr_ticket_pattern: '[a-z]+'\n",
        None,
        [(2, "merge_rules.fr_ticket_pattern", everything("pdate", "Update the login page"))],
    ),
    (
        "ticket fr",
        "merge_rules:\n  fr_ticket_pattern: 'fr'\n",
        None,
        [(2, "merge_rules.fr_ticket_pattern", everything("fr", "fr/login"))],
    ),
    # accepted: patterns that need what a ticket has
    ("ticket default", "merge_rules:\n  fr_ticket_pattern: '[A-Z]+-[0-9]+'\n", lambda c: True, []),
    ("ticket #123", "merge_rules:\n  fr_ticket_pattern: '#[0-9]+'\n", lambda c: True, []),
    ("ticket lower", "merge_rules:\n  fr_ticket_pattern: '[a-z]+-[0-9]+'\n", lambda c: True, []),
]


@pytest.mark.parametrize("name,text,holds,errors", SILENT_MISTAKES, ids=[c[0] for c in SILENT_MISTAKES])
def test_silent_mistakes(name, text, holds, errors):
    result = parse_config(text)
    assert [(e.line, e.key, e.message) for e in result.errors] == errors
    if holds is not None:
        assert result.config is not None and holds(result.config)
