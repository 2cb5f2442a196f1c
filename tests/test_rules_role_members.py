"""role_findings: what GitHub said of each name in the roles, turned into errors that name the line (a table)."""

from __future__ import annotations

import pytest

from bot.config import Roles, parse_config
from bot.rules.role_members import MemberFacts, is_team, member_key, role_findings, split_team

TEXT = """\
roles:
  qa: ["@acme/qa", quinn]
  rte: [acme/release]
  pdm: ["@Other/product", "@pam"]
"""
RESULT = parse_config(TEXT)
assert RESULT.config is not None
ROLES, LINES = RESULT.config.roles, RESULT.lines
GOOD = {
    "acme/qa": MemberFacts(True, "triage"),
    "quinn": MemberFacts(True, "write"),
    "acme/release": MemberFacts(True, "maintain"),
    "other/product": MemberFacts(True, "read"),
    "pam": MemberFacts(True, "read"),
}

CASES = [
    ("every name exists and has access", {}, [], []),
    (
        "a missing team",
        {"acme/qa": MemberFacts(False)},
        [
            (
                2,
                "roles.qa[0]",
                "@acme/qa: acme has no team 'qa' that the app can see, so no one holds the QA role through it",
            )
        ],
        [],
    ),
    (
        "a team of another organisation than the repository's",
        {"other/product": MemberFacts(False)},
        [
            (
                4,
                "roles.pdm[0]",
                "@Other/product: Other has no team 'product' that the app can see; the app is installed on acme "
                "and sees only its teams, so no one holds the PdM role through it",
            )
        ],
        [],
    ),
    (
        "a team written without @ has no access",
        {"acme/release": MemberFacts(True, "none")},
        [
            (
                3,
                "roles.rte[0]",
                "@acme/release has no access to acme/app, so the RTE role cannot act there: give the team access "
                "(Settings, Collaborators and teams)",
            )
        ],
        [],
    ),
    (
        "a login that is no user",
        {"quinn": MemberFacts(False)},
        [(2, "roles.qa[1]", "@quinn: there is no GitHub user 'quinn', so no one holds the QA role through it")],
        [],
    ),
    (
        "a person without access",
        {"pam": MemberFacts(True, "none")},
        [
            (
                4,
                "roles.pdm[1]",
                "@pam has no access to acme/app, so the PdM role cannot act there: add them as a collaborator "
                "(Settings, Collaborators and teams)",
            )
        ],
        [],
    ),
    (
        "a name GitHub would not say anything about is a warning, not an error",
        {"acme/qa": MemberFacts(None, unknown="GitHub answered 403")},
        [],
        [(2, "roles.qa[0]", "@acme/qa could not be checked: GitHub answered 403")],
    ),
]


@pytest.mark.parametrize("name,changed,errors,warnings", CASES, ids=[c[0] for c in CASES])
def test_role_findings(name, changed, errors, warnings):
    found = role_findings(ROLES, {**GOOD, **changed}, LINES, repository="acme/app")
    assert [(e.line, e.key, e.message) for e in found.errors] == errors
    assert [(w.line, w.key, w.message) for w in found.warnings] == warnings


def test_names_not_looked_up_give_no_finding():
    assert role_findings(ROLES, {}, LINES, repository="acme/app").errors == ()


def test_a_name_listed_twice_is_named_at_each_line():
    roles = Roles(qa=("ghost",), rte=("@Ghost",))
    found = role_findings(roles, {"ghost": MemberFacts(False)}, {"roles.rte[0]": 5}, repository="acme/app")
    assert [(e.line, e.key) for e in found.errors] == [(None, "roles.qa[0]"), (5, "roles.rte[0]")]


@pytest.mark.parametrize(
    "member,team,key",
    [("@acme/qa", ("acme", "qa"), "acme/qa"), ("acme/QA", ("acme", "QA"), "acme/qa"), ("@Dana", None, "dana")],
)
def test_one_grammar_for_role_names(member, team, key):
    assert is_team(member) is (team is not None)
    if team is not None:
        assert split_team(member) == team
    assert member_key(member) == key
