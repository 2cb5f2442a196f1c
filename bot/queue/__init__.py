"""The work queue: verified deliveries stored before the 202, processed per repository in order."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Delivery:
    id: str  # X-GitHub-Delivery
    event: str  # X-GitHub-Event
    body: bytes  # the raw, verified payload
    repo_key: str  # "owner/name", or "installation:<id>" / "app" for events without a repository
    installation_id: int | None
    attempts: int = 0
