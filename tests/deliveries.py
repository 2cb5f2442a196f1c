"""Signed webhook deliveries to the bot's door, as GitHub sends them: GitHub's own example payloads, signed, posted."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from bot.sandbox.harness import WEBHOOK_SECRET, World

EXAMPLES = Path(__file__).parent / "reference" / "webhook-payloads.json"  # every event's examples


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers_for(body: bytes, event: str = "issues", delivery: str | None = None, **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body),
        **extra,
    }


async def post(world: World, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    assert world.bot_url is not None
    async with world.session.post(world.bot_url, data=body, headers=headers) as resp:
        text = await resp.text()
        return resp.status, (json.loads(text) if text.startswith("{") else text)


@cache
def _examples() -> list[dict[str, Any]]:
    return json.loads(EXAMPLES.read_text())


def example_payloads() -> list[tuple[str, dict[str, Any]]]:
    """(event, payload) for every example GitHub gives."""
    return [(entry["name"], json.loads(json.dumps(p))) for entry in _examples() for p in entry.get("examples") or []]


def example(event: str, action: str | None = None) -> dict[str, Any]:
    """A fresh copy of GitHub's first example payload of this event (and action)."""
    for entry in _examples():
        if entry["name"] == event:
            for found in entry.get("examples") or []:
                if action is None or found.get("action") == action:
                    return json.loads(json.dumps(found))
    raise LookupError(f"no example of {event} {action}")
