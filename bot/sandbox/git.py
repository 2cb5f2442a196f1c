"""Bare git repositories under the state dir, driven through git plumbing (no work trees)."""

from __future__ import annotations

from pathlib import Path


class GitRepos:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
