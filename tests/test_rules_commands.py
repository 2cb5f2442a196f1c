"""Table tests for the pure command rules: does a command still speak of the head it is about."""

from __future__ import annotations

import pytest

from bot.rules.commands import head_moved_after


@pytest.mark.parametrize(
    ("written_at", "arrived_at", "moved"),
    [
        ("2024-05-01T10:00:00Z", "2024-05-01T09:59:59Z", False),  # the head was there when the comment was written
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z", False),  # the same second counts as seen
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:01Z", True),
        ("2024-05-01T10:00:00Z", "2024-05-02T00:00:00Z", True),
        ("2024-05-01T10:00:00Z", "2024-05-01T11:59:59+02:00", False),  # offsets are read, not compared as text
        ("2024-05-01T10:00:00Z", None, False),  # GitHub cannot tell: the dedupe by comment still holds
    ],
)
def test_a_head_that_arrived_after_the_comment_was_written_moved(
    written_at: str, arrived_at: str | None, moved: bool
) -> None:
    assert head_moved_after(written_at, arrived_at) is moved
