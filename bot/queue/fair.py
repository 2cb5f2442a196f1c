"""Fair turns: round-robin across installations, then across their repositories, one job per turn.

A repository is either idle (nothing to do), ready (waiting for a turn) or busy (a job in flight or
waiting for its retry). A flood from one installation therefore delays only that installation.
"""

from __future__ import annotations

from collections import OrderedDict, deque


class FairTurns:
    def __init__(self) -> None:
        self._ready: OrderedDict[str, deque[str]] = OrderedDict()  # installation -> ready repositories
        self._ready_set: set[str] = set()
        self.busy: set[str] = set()

    def make_ready(self, repo_key: str, installation_key: str) -> None:
        if repo_key in self._ready_set or repo_key in self.busy:
            return
        self._ready.setdefault(installation_key, deque()).append(repo_key)
        self._ready_set.add(repo_key)

    def take(self) -> str | None:
        """The next repository to run one job for; it is busy until `finish`."""
        while self._ready:
            installation_key, repos = next(iter(self._ready.items()))
            del self._ready[installation_key]
            if not repos:
                continue
            repo_key = repos.popleft()
            if repos:
                self._ready[installation_key] = repos  # to the back of the line
            self._ready_set.discard(repo_key)
            self.busy.add(repo_key)
            return repo_key
        return None

    def finish(self, repo_key: str) -> None:
        self.busy.discard(repo_key)

    def has_ready(self) -> bool:
        return bool(self._ready_set)
