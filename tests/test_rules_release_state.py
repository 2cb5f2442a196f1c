"""Tables for the release record: its hidden line round-trips any text, and nothing else passes for it."""

from __future__ import annotations

import pytest

from bot.rules.release_state import (
    Cut,
    Hold,
    Promotion,
    ReleaseRecord,
    ReleaseState,
    decode_record,
    encode_record,
    record_output,
)

A, B = "a" * 40, "b" * 40

FULL = ReleaseRecord(
    "1.5",
    tracking=12,
    cut=Cut("rita", A, "2026-01-01T00:00:00Z", forced=True, complete=True, dispatched=("build.yml",), not_in_rc=(4,)),
    hold=Hold("legal --> review @everyone <!-- x --> ünï 🚀 " + "y" * 900, "pam", "2026-01-02T00:00:00Z"),
    promotions=(Promotion("v1.5.0", B, "rita", ("tag", "release")),),
)


@pytest.mark.parametrize(
    "record",
    [ReleaseRecord("1.5"), ReleaseRecord("10.20", tracking=1), FULL, FULL.unheld(), FULL.held('"}\\ -->', "x")],
)
def test_the_record_round_trips_and_its_line_stays_one_hidden_comment(record):
    line = encode_record(record)
    assert line.startswith("<!-- ") and line.endswith(" -->")
    assert "--" not in line[4:-3] and "@" not in line and "\n" not in line
    assert decode_record(f"people read this\n\n{line}\n") == record


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "no record here",
        "<!-- release-train:release-state {} -->",  # no version
        '<!-- release-train:release-state {"version": 1.5} -->',  # wrong type
        '<!-- release-train:release-state {"version": "1.5", "v": 2} -->',  # another shape
        '<!-- release-train:release-state {"version": "1.5", "hold": "yes"} -->',
        '<!-- release-train:release-state {"version": "1.5" -->',
    ],
)
def test_anything_else_is_no_record(text):
    assert decode_record(text) is None


def test_transitions_and_what_the_run_says():
    held = ReleaseRecord("1.5", tracking=3).held("legal", "pam", "t")
    assert held.hold == Hold("legal", "pam", "t") and held.unheld().hold is None
    promoted = held.with_promotion(Promotion("v1.5.0", A, "rita", ("tag",)))
    promoted = promoted.with_promotion(Promotion("v1.5.0", A, "rita", ("tag", "release")))
    assert promoted.promotions == (Promotion("v1.5.0", A, "rita", ("tag", "release")),)
    assert promoted.promotion("v1.5.0") is not None and promoted.promotion("v1.5.1") is None
    output = record_output(FULL, "rc/1.5")
    assert output.title == "Release 1.5: on hold, promoted v1.5.0"
    assert "- on hold by pam: legal --&gt; review @\u200deveryone" in output.summary
    assert "tracking issue #12" in output.summary and decode_record(output.text) == FULL
    assert len(output.summary) < 65535 and len(output.text) < 65535


def test_a_state_knows_whether_its_record_sits_on_the_head():
    assert ReleaseState("1.5", "rc/1.5", A, FULL, A).carried
    assert not ReleaseState("1.5", "rc/1.5", A, FULL, B).carried
    assert ReleaseState("1.5", "rc/1.5", A, None).carried  # nothing to carry
