"""The sandbox's state: users, organisations, teams, installations and repositories, kept in one JSON file.

Records are GitHub-shaped dicts where that is simplest. Each repository's record holds its own
collections (issues and PRs share one number sequence, as on GitHub). Writes are flushed to disk
shortly after they happen and on shutdown, so a restart on the same state dir keeps everything.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, number: int) -> str:
    import base64

    return base64.b64encode(f"0:{kind}{number}".encode()).decode().rstrip("=")


class Store:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "state.json"
        self._lock = threading.Lock()
        self._dirty = False
        self._flush_task: asyncio.Task[None] | None = None
        if self.path.exists():
            self.data: dict[str, Any] = json.loads(self.path.read_text())
        else:
            self.data = {
                "next_id": 1000,
                "users": {},  # login (lower case) -> user record (also organisations: type Organization)
                "teams": {},  # "org/slug" -> team record with "members": {login: "member"|"maintainer"}
                "installations": {},  # owner login (lower case) -> {"id", "account", "created_at"}
                "tokens": {},  # installation token -> {"installation_id", "expires_at"}
                "repos": {},  # "owner/name" (lower case) -> repository record
                "app": {},  # id, slug, name, key paths, permissions, events
            }

    # ids -----------------------------------------------------------------------------------
    def new_id(self) -> int:
        self.data["next_id"] += 1
        self.touch()
        return int(self.data["next_id"])

    # persistence ---------------------------------------------------------------------------
    def touch(self) -> None:
        """Mark the state changed; it is written to disk soon."""
        self._dirty = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = loop.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(0.2)
        self.flush()

    def flush(self) -> None:
        if not self._dirty:
            return
        with self._lock:
            self._dirty = False
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, separators=(",", ":")))
            os.replace(tmp, self.path)

    # people --------------------------------------------------------------------------------
    def user(self, login: str, *, kind: str = "User") -> dict[str, Any]:
        """The user or organisation with this login, created on first use."""
        key = login.lower()
        record = self.data["users"].get(key)
        if record is None:
            uid = self.new_id()
            record = {"login": login, "id": uid, "type": kind, "site_admin": False, "created_at": now_iso()}
            self.data["users"][key] = record
            self.touch()
        return record

    def find_user(self, login: str) -> dict[str, Any] | None:
        return self.data["users"].get(login.lower())

    # installations -------------------------------------------------------------------------
    def installation_for(self, owner: str) -> dict[str, Any]:
        """One installation per owner; the app is installed on every repository."""
        key = owner.lower()
        inst = self.data["installations"].get(key)
        if inst is None:
            inst = {"id": self.new_id(), "account": self.user(owner)["login"], "created_at": now_iso()}
            self.data["installations"][key] = inst
            self.touch()
        return inst

    def installation_by_id(self, installation_id: int) -> dict[str, Any] | None:
        for inst in self.data["installations"].values():
            if inst["id"] == installation_id:
                return inst
        return None

    # repositories --------------------------------------------------------------------------
    def repo(self, owner: str, name: str) -> dict[str, Any] | None:
        return self.data["repos"].get(f"{owner}/{name}".lower())

    def add_repo(self, record: dict[str, Any]) -> dict[str, Any]:
        self.data["repos"][record["full_name"].lower()] = record
        self.touch()
        return record

    def next_number(self, repo: dict[str, Any]) -> int:
        """Issues and pull requests share one number sequence per repository."""
        repo["next_number"] = repo.get("next_number", 0) + 1
        self.touch()
        return int(repo["next_number"])


def unix_now() -> int:
    return int(time.time())
