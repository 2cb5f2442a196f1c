"""Release-train bursts whose effects are known in advance, and the counting of those effects in the sandbox's own records."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.rules.cherry_pick import OPENED, decode_states
from bot.sandbox import seed
from bot.sandbox.common import HOOKS, STORE
from bot.sandbox.harness import WEBHOOK_SECRET, World

ORG = "acme"
BOT = "release-train[bot]"
PICK_CHECK = "release-train/cherry-pick"
MERGE_CHECK = "release-train/merge-rules"
GATE_CHECK = "release-train/gate"
CONFIG = """\
branches:
  devel: devel
roles:
  qa: [quinn]
  rte: [rita]
"""
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class RepoPlan:
    """One repository's burst: merged fixes to be labelled and verified, one FR PR, one /help, chatter."""

    name: str
    fixes: list[int] = field(default_factory=list)
    chat_issue: int = 0
    fr_branch: str = ""
    rc_ready: bool = True  # rc/1.5 exists before the burst

    @property
    def full(self) -> str:
        return f"{ORG}/{self.name}"


async def prepare_repo(world: World, name: str, *, fixes: int = 1, cut_rc: bool = False) -> RepoPlan:
    """A repository on devel with the config, people, rc/1.5 (branched, or cut by rita when cut_rc), and merged fix PRs."""
    plan = RepoPlan(name)
    full = plan.full
    await seed.create_org_repo(
        world, ORG, name, admin="alice", files={"README.md": f"# {name}\n"}, default_branch="devel"
    )
    await seed.put_config(world, "alice", full, CONFIG)
    for login in ("dana", "quinn", "rita"):
        await seed.grant(world, full, login, "write")
    answer = await world.call("dana", "POST", f"/repos/{full}/issues", {"title": "Where we talk"})
    assert answer.status == 201, answer.body
    plan.chat_issue = int(answer.body["number"])
    if cut_rc:
        await seed.comment(world, "rita", full, plan.chat_issue, "/cut-rc 1.5")
    else:
        await seed.create_branch(world, "alice", full, "rc/1.5", "devel")
    for i in range(fixes):
        branch = f"fix/f{i}"
        await seed.create_branch(world, "dana", full, branch, "devel")
        await seed.commit(world, "dana", full, branch, {f"fix{i}.txt": f"fix {i} of {name}\n"}, f"Fix {i}")
        pr = await seed.open_pr(world, "dana", full, head=branch, base="devel", title=f"Fix {i}")
        await seed.merge_pr(world, "alice", full, int(pr["number"]), "squash")
        plan.fixes.append(int(pr["number"]))
    plan.fr_branch = f"fr/FR-{len(name)}{name[-1]}-work"
    return plan


Action = Callable[[], Awaitable[Any]]


def pick_actions(world: World, plan: RepoPlan) -> list[Action]:
    """A target label by the developer, then the verified label by QA, on each merged fix."""
    actions: list[Action] = []
    for number in plan.fixes:
        actions.append(lambda n=number: seed.add_labels(world, "dana", plan.full, n, "cherry-pick/1.5"))
        actions.append(lambda n=number: seed.add_labels(world, "quinn", plan.full, n, "qa/verified"))
    return actions


def fr_actions(world: World, plan: RepoPlan) -> list[Action]:
    """An FR branch with a commit, and its PR into devel (one merge-rules verdict)."""
    ticket = plan.fr_branch.split("/")[1].rsplit("-", 1)[0]
    return [
        lambda: seed.create_branch(world, "alice", plan.full, plan.fr_branch, "devel"),
        lambda: seed.commit(world, "alice", plan.full, plan.fr_branch, {"fr.txt": "work\n"}, "Start the FR"),
        lambda: seed.open_pr(world, "alice", plan.full, head=plan.fr_branch, base="devel", title=f"{ticket}: work"),
    ]


def burst_actions(world: World, plan: RepoPlan, *, people_events: int) -> list[Action]:
    """Picks, the FR PR, one /help, then chatter on the chat issue up to `people_events` actions."""
    actions = pick_actions(world, plan) + fr_actions(world, plan)
    actions.append(lambda: seed.comment(world, "dana", plan.full, plan.chat_issue, "/help"))
    n = 0
    while len(actions) < people_events:
        actions.append(
            lambda k=n: seed.comment(world, "dana", plan.full, plan.chat_issue, f"note {k}, no command here")
        )
        n += 1
    return actions


async def run_burst(per_repo: list[list[Action]]) -> None:
    """Each repository's actions in order; the repositories at once."""

    async def one(actions: list[Action]) -> None:
        for act in actions:
            await act()

    await asyncio.gather(*(one(a) for a in per_repo))


# counting ------------------------------------------------------------------------------------------


@dataclass
class Tally:
    expected: int = 0
    seen: int = 0
    duplicates: int = 0
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)

    def count(self, what: str, found: int) -> None:
        self.expected += 1
        if found:
            self.seen += 1
        else:
            self.missing.append(what)
        if found > 1:
            self.duplicates += found - 1
            self.duplicated.append(f"{what} x{found}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "expected": self.expected,
            "seen": self.seen,
            "duplicates": self.duplicates,
            "missing": self.missing[:10],
            "duplicated": self.duplicated[:10],
        }


def _store_repo(world: World, plan: RepoPlan) -> dict[str, Any]:
    return world.app[STORE].repo(ORG, plan.name)


def _head(repo: dict[str, Any], number: int) -> str:
    return str(repo["pulls"][str(number)]["head_sha"])


def _pick_opened(run: dict[str, Any]) -> bool:
    state = decode_states((run.get("output") or {}).get("text")).get("1.5")
    return state is not None and state.state == OPENED and state.pr is not None


def effects(
    world: World,
    plans: list[RepoPlan],
    *,
    picks: bool = True,
    fr: bool = True,
    help_reply: bool = True,
    gate_heads: dict[str, str] | None = None,
) -> Tally:
    """Every expected effect, counted once from the sandbox's store; plus anything the bot did twice."""
    tally = Tally()
    for plan in plans:
        repo = _store_repo(world, plan)
        bot_comments = [c for c in repo["comments"].values() if c["user"] == BOT]
        runs = list(repo.get("check_runs", {}).values())
        if picks:
            for number in plan.fixes:
                branch = f"cherry-pick/{number}-to-rc-1.5"
                tally.count(
                    f"{plan.name}#{number} pick PR", sum(1 for p in repo["pulls"].values() if p["head_ref"] == branch)
                )
                tally.count(
                    f"{plan.name}#{number} pick link",
                    sum(
                        1
                        for c in bot_comments
                        if c["issue_number"] == number and "Cherry-pick into `rc/1.5`: #" in c["body"]
                    ),
                )
                opened = [
                    r
                    for r in runs
                    if r["name"] == PICK_CHECK and r["head_sha"] == _head(repo, number) and _pick_opened(r)
                ]
                tally.count(f"{plan.name}#{number} pick check", len(opened))
        if fr:
            # The FR PR is people's doing, not an effect; there is one once the burst is over.
            numbers = [n for n, p in repo["pulls"].items() if p["head_ref"] == plan.fr_branch]
            for n in numbers:
                tally.count(
                    f"{plan.name}#{n} merge-rules check",
                    sum(1 for r in runs if r["name"] == MERGE_CHECK and r["head_sha"] == _head(repo, int(n))),
                )
        if help_reply:
            tally.count(
                f"{plan.name}#{plan.chat_issue} /help reply",
                sum(1 for c in bot_comments if c["issue_number"] == plan.chat_issue and "/cherry-pick" in c["body"]),
            )
        if gate_heads and plan.name in gate_heads:
            tally.count(
                f"{plan.name} gate on the new RC head",
                sum(1 for r in runs if r["name"] == GATE_CHECK and r["head_sha"] == gate_heads[plan.name]),
            )
    return tally


def repeated_anywhere(world: World, plans: list[RepoPlan]) -> int:
    """Bot-made things that exist twice in any repository (comments on one issue, runs of one check on one commit, pick PRs)."""
    total = 0
    for plan in plans:
        repo = _store_repo(world, plan)
        bot_comments = [c for c in repo["comments"].values() if c["user"] == BOT]
        for counter in (
            Counter((c["issue_number"], c["body"]) for c in bot_comments),
            Counter((r["name"], r["head_sha"]) for r in repo.get("check_runs", {}).values()),
            Counter(p["head_ref"] for p in repo["pulls"].values() if p["head_ref"].startswith("cherry-pick/")),
        ):
            total += sum(n - 1 for n in counter.values() if n > 1)
    return total


def footprint(world: World, plans: list[RepoPlan]) -> dict[str, int]:
    """How many comments, PRs/issues, check runs, labels and branches exist (a redelivery must change none)."""
    sizes: Counter[str] = Counter()
    for plan in plans:
        repo = _store_repo(world, plan)
        sizes["comments"] += len(repo["comments"])
        sizes["issues_and_prs"] += len(repo["issues"])
        sizes["check_runs"] += len(repo.get("check_runs", {}))
        sizes["labels_on_issues"] += sum(len(i["labels"]) for i in repo["issues"].values())
        sizes["bot_comment_edits"] += sum(
            1 for c in repo["comments"].values() if c["user"] == BOT and c["updated_at"] != c["created_at"]
        )
    return dict(sizes)


def report(name: str, tally: Tally, **extra: Any) -> None:
    print(json.dumps({"test": name, **tally.as_dict(), **extra}, sort_keys=False))


# deliveries ----------------------------------------------------------------------------------------


def forget_deliveries(world: World, since: int = 0) -> int:
    """The sandbox forgets deliveries recorded after index `since` (GitHub keeps them only for days): nothing to redeliver."""
    hooks = world.app[HOOKS]
    gone = hooks.deliveries[since:]
    del hooks.deliveries[since:]
    for entry in gone:
        hooks._by_id.pop(entry["id"], None)
    return len(gone)


# a served bot --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(world: World, port: int, state_url: str, log_path: Path, **env_extra: str) -> subprocess.Popen[bytes]:
    """`release-train serve` as its own process, configured only through its environment."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "PRIVATE_KEY"},
        "APP_ID": str(world.sandbox.config.app_id),
        "PRIVATE_KEY_PATH": str(world.sandbox.config.private_key_path),
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GITHUB_API_URL": world.api_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "STATE_URL": state_url,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "WORKER_CONCURRENCY": "4",
        "RETRY_BASE_SECONDS": "0.05",
        "RETRY_CAP_SECONDS": "1",
        "REDELIVERY_INTERVAL_SECONDS": "0",
        "SWEEP_INTERVAL_SECONDS": "0",
        # GitHub's pacing (80 writes a minute) would stretch a burst over minutes; a test shows the pacing elsewhere.
        "WRITES_PER_MINUTE": "100000",
        "WRITES_PER_HOUR": "1000000",
        **env_extra,
    }
    out = log_path.open("ab")
    return subprocess.Popen([sys.executable, "-m", "bot", "serve"], env=env, cwd=ROOT, stdout=out, stderr=out)


def stop_served(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every served bot still running, all at once so they drain together; kill one that takes over 30 s."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def healthy(world: World, port: int) -> bool:
    try:
        async with world.session.get(f"http://127.0.0.1:{port}/healthz") as resp:
            return resp.status == 200
    except OSError:
        return False


async def wait_until(predicate: Callable[[], Awaitable[bool]], what: str, limit: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        await asyncio.sleep(0.05)


def sqlite_unfinished(db: Path) -> int:
    """Jobs the served bot still has to run (read from its file, as an operator would)."""
    if not db.exists():
        return 1
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')").fetchone()[0])


async def quiet(world: World, still_working: Callable[[], Awaitable[int]], what: str, limit: float = 60.0) -> None:
    """The sandbox has sent everything and the bot has nothing left, several times in a row."""
    calm = 0

    async def settled() -> bool:
        nonlocal calm
        await world.app[HOOKS].wait_idle()
        busy = world.app[HOOKS].pending() or await still_working()
        calm = 0 if busy else calm + 1
        return calm >= 5

    await wait_until(settled, what, limit)
