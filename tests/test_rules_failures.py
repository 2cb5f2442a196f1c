"""The failures rule as tables: what a job was about, what failed in people's words, and where the list goes."""

from __future__ import annotations

import pytest

from bot.rules import failures as rules
from bot.rules.failures import Failure, StatusFacts, StatusIssue, StatusPlan
from bot.rules.text import marker

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("event", "fields", "key", "about"),
    [
        ("push", {"ref": "refs/heads/rc/1.5"}, "push:refs/heads/rc/1.5", "the push to branch `rc/1.5`"),
        ("push", {"ref": "refs/tags/v1.5.0"}, "push:refs/tags/v1.5.0", "the push to tag `v1.5.0`"),
        ("create", {"ref": "rc/1.6", "ref_type": "branch"}, "create:branch:rc/1.6", "the creation of branch `rc/1.6`"),
        (
            "status",
            {"sha": SHA, "context": "ci/sanity"},
            f"status:{SHA}:ci/sanity",
            "the status `ci/sanity` on commit `0123456`",
        ),
        (
            "check_run",
            {"sha": SHA, "name": "nightly"},
            f"check_run:{SHA}:nightly",
            "the check run `nightly` on commit `0123456`",
        ),
        ("check_suite", {"sha": SHA}, f"check_suite:{SHA}", "the check suite on commit `0123456`"),
        (
            "deployment_protection_rule",
            {"environment": "production", "sha": SHA},
            f"deployment_protection_rule:production:{SHA}",
            "the deployment to `production` of commit `0123456`",
        ),
        ("sweep", {"name": "merge_rules"}, "sweep:merge_rules", "the periodic sweep of `merge_rules`"),
        ("sweep", {}, "sweep:", "the periodic sweep of `every concern`"),
        ("installation", {"action": "created"}, "installation.created", "the `installation.created` event"),
    ],
)
def test_a_jobs_subject(event: str, fields: dict[str, str], key: str, about: str) -> None:
    subject = rules.subject_of(event, **fields)
    assert (subject.key, subject.about) == (key, about)


def test_two_pushes_to_one_branch_share_a_subject_and_another_branch_does_not() -> None:
    one, two = rules.subject_of("push", ref="refs/heads/devel"), rules.subject_of("push", ref="refs/heads/devel")
    assert one.key == two.key != rules.subject_of("push", ref="refs/heads/fr/x").key


def test_peoples_names_in_a_subject_ping_no_one_and_break_no_table() -> None:
    about = rules.subject_of("push", ref="refs/heads/fix/@alice|`x`<b>").about
    assert "@alice" not in about and "@\u200dalice" in about
    assert "|" not in about.replace("\\|", "") and "<b>" not in about
    assert about.count("`") == 2


@pytest.mark.parametrize(
    ("error", "dead", "said"),
    [
        (
            "TransientError: POST https://api.github.com/repos/acme/app/check-runs answered 502",
            True,
            "GitHub kept failing after every retry: POST /repos/acme/app/check-runs answered 502",
        ),
        (
            "TransientError: GET /repos/a/b/issues?access_token=abc answered 503",
            False,
            "GitHub failed: GET /repos/a/b/issues answered 503",
        ),
        ("BadRequest: Not Found", False, "GitHub refused a request: Not Found"),
        ("RateLimitExceeded: spent", True, "GitHub's rate limit was spent: spent"),
        ("PayloadError: $.ref: missing", False, "the webhook's payload could not be read: $.ref: missing"),
        (
            "KeyError: 'token ghs_abcdefghijklmnop'",
            True,
            "the bot hit an error it did not expect (`KeyError`); the app's logs have the details",
        ),
    ],
)
def test_what_failed_in_peoples_words(error: str, dead: bool, said: str) -> None:
    assert rules.what_failed(error, dead) == said


@pytest.mark.parametrize(
    "secret",
    [
        "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "Bearer eyJhbGciOiJSUzI1NiJ9.payload.signature",
        "token gho_16C7e42F292c6912E7710c838347Ae178B4a",
        "https://x-access-token:ghs_secret@github.com/acme/app.git",
        "/repos/a/b?client_secret=s3cr3t&x=1",
    ],
)
def test_no_token_reaches_people(secret: str) -> None:
    said = rules.what_failed(f"TransientError: GET {secret} answered 502", True)
    for part in ("16C7e42F292c", "abcdefghijklmnop", "eyJhbGci", "ghs_secret", "s3cr3t"):
        assert part not in said


def failure(key: str, at: str = "2026-12-02T10:00:00Z") -> Failure:
    return Failure(
        key=key, about=f"the push to branch `{key}`", event="push", delivery=f"d-{key}", at=at, what="GitHub failed"
    )


def test_the_ledgers_entry_reads_back_and_a_broken_one_reads_as_none() -> None:
    entry = failure("devel")
    assert rules.decode_failure(rules.encode_failure(entry)) == entry
    assert rules.decode_failure(b"{not json") is None
    assert rules.decode_failure(b'{"key": 1}') is None


def test_the_listing_is_oldest_first_and_says_when_none_remains() -> None:
    text = rules.listing((failure("b", "2026-12-02T11:00:00Z"), failure("a", "2026-12-02T10:00:00Z")))
    assert text.index("`a`") < text.index("`b`") and "2026-12-02 10:00" in text
    assert rules.listing(()).startswith("No failure remains")


ONE = (failure("devel"),)
BODY = rules.status_body(ONE)
COMMENT = f"{marker(rules.STATUS_KEY)}\n{rules.tracking_comment(ONE)}"


@pytest.mark.parametrize(
    ("facts", "plan"),
    [
        # no tracking issue: the status issue is opened, kept equal, reopened, closed
        (StatusFacts(ONE, None, None, None), StatusPlan(create=BODY)),
        (StatusFacts(ONE, None, None, StatusIssue(7, "open", BODY)), StatusPlan()),
        (StatusFacts(ONE, None, None, StatusIssue(7, "open", "edited by a person")), StatusPlan(body=BODY)),
        (
            StatusFacts(ONE, None, None, StatusIssue(7, "closed", rules.status_body(()))),
            StatusPlan(reopen=True, body=BODY, note="A job failed again; reopening this issue."),
        ),
        (
            StatusFacts((), None, None, StatusIssue(7, "open", BODY)),
            StatusPlan(body=rules.status_body(()), close=True, note=rules.CLOSING_NOTE),
        ),
        (StatusFacts((), None, None, StatusIssue(7, "closed", BODY)), StatusPlan()),
        (StatusFacts((), None, None, None), StatusPlan()),
        # a tracking issue is open: one comment there, and an open status issue closes pointing at it
        (StatusFacts(ONE, 3, None, None), StatusPlan(comment=rules.tracking_comment(ONE))),
        (StatusFacts(ONE, 3, COMMENT, None), StatusPlan()),
        (StatusFacts((), 3, COMMENT, None), StatusPlan(comment=rules.tracking_comment(()))),
        (StatusFacts((), 3, None, None), StatusPlan()),
        (
            StatusFacts(ONE, 3, COMMENT, StatusIssue(7, "open", BODY)),
            StatusPlan(
                body=rules.status_body(ONE, moved_to=3),
                close=True,
                note="Failures are now listed on the release tracking issue #3. Closing this issue.",
            ),
        ),
        (StatusFacts(ONE, 3, COMMENT, StatusIssue(7, "closed", BODY)), StatusPlan()),
    ],
)
def test_where_the_failures_go(facts: StatusFacts, plan: StatusPlan) -> None:
    assert rules.decide(facts) == plan


def test_showing_the_decided_state_again_changes_nothing() -> None:
    assert rules.decide(StatusFacts(ONE, None, None, StatusIssue(7, "open", BODY))).changes_nothing
    assert rules.decide(StatusFacts(ONE, 3, COMMENT, None)).changes_nothing


def test_a_sweep_that_ran_ends_every_sweep_subject_but_those_failing_now() -> None:
    open_keys = ["sweep:", "sweep:merge_rules", "sweep:release", "sweep:gone", "push:refs/heads/devel"]
    assert rules.over_after_sweep(open_keys, ["release"]) == ["sweep:", "sweep:gone", "sweep:merge_rules"]
    assert rules.over_after_sweep(["push:refs/heads/devel"], []) == []
