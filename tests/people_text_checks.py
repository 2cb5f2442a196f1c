"""Reading back what the bot wrote in acme/app, to check that people's text never pings anyone through it."""

from __future__ import annotations

import re

from bot.sandbox.common import STORE
from bot.sandbox.harness import World
from release_story import NAME, ORG

BOT = "release-train[bot]"
# Who may be mentioned at all: the people the stories' bot answers (a refused command, a removed label) and the
# hand-off teams of /promote; tests/test_people_text.py holds each comment to whom it answers.
ALLOWED_MENTIONS = {"dana", "erin", "quinn", "rita", "pam", "acme/rops", "acme/fe"}

# "@name" as GitHub reads a mention: after a non-word character, not defused by a zero-width joiner.
_MENTION = re.compile(r"(?<![A-Za-z0-9_`\u200d])@([A-Za-z0-9][A-Za-z0-9-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)?)")


# GitHub links no mention inside code: fenced blocks and inline code spans.
_FENCED = re.compile(r"^```.*?^```", re.S | re.M)
_CODE_SPAN = re.compile(r"`[^`\n]+`")


def mentions(text: str) -> set[str]:
    prose = _CODE_SPAN.sub("", _FENCED.sub("", text or ""))
    return {m.lower() for m in _MENTION.findall(prose)}


def bot_texts(world: World, people_wrote: dict[int, tuple[str, str]]) -> list[tuple[str, str]]:
    """(where, text) for every text the bot wrote that people can see, read from the sandbox's records.

    people_wrote: issue/PR number -> (title, body) as people wrote them; any other title or body is the bot's.
    """
    repo = world.app[STORE].repo(ORG, NAME)
    texts: list[tuple[str, str]] = []
    for c in repo["comments"].values():
        if c["user"] == BOT:
            texts.append((f"comment {c['id']} on #{c['issue_number']}", c["body"]))
    for run in repo.get("check_runs", {}).values():
        output = run.get("output") or {}
        for part in ("title", "summary", "text"):
            texts.append((f"check run {run['name']} {part}", output.get(part) or ""))
    for number, issue in repo["issues"].items():
        if people_wrote.get(int(number)) != (issue["title"], issue["body"] or ""):
            texts.append((f"#{number} title", issue["title"]))
            texts.append((f"#{number} body", issue["body"] or ""))
    for release in repo.get("releases", {}).values():
        texts.append((f"release {release['tag_name']}", f"{release.get('name') or ''}\n{release.get('body') or ''}"))
    for deployment in repo.get("deployments", {}).values():
        texts.append((f"deployment {deployment['id']}", str(deployment.get("description") or "")))
    return texts


def assert_no_pings(world: World, people_wrote: dict[int, tuple[str, str]]) -> list[tuple[str, str]]:
    texts = bot_texts(world, people_wrote)
    stray = {(where, m) for where, text in texts for m in mentions(text) if m not in ALLOWED_MENTIONS}
    assert not stray, "\n".join(f"{where}: @{m}" for where, m in sorted(stray))
    return texts


def people_wrote(world: World) -> dict[int, tuple[str, str]]:
    """Every issue and PR as it stands, to be taken as people's own text (call before the bot acts on them)."""
    repo = world.app[STORE].repo(ORG, NAME)
    return {int(n): (i["title"], i["body"] or "") for n, i in repo["issues"].items() if i["user"] != BOT}
