"""Webhook deliveries: composed like GitHub's, signed, sent in order per repository, recorded for redelivery."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.sandbox.state import Store, now_iso

log = logging.getLogger("release_train.sandbox.hooks")


@dataclass
class DeliveryFaults:
    """Delivery misbehaviour GitHub allows itself: late, twice, out of order (seeded)."""

    delay: float = 0.0  # fraction of deliveries held back a little
    duplicate: float = 0.0  # fraction sent twice (same X-GitHub-Delivery)
    reorder: float = 0.0  # fraction swapped with the next delivery for the same repository
    max_delay_seconds: float = 0.3
    rng: random.Random = field(default_factory=lambda: random.Random(0))


class Hooks:
    """Composes events, signs them, and sends them to the app's webhook URL."""

    def __init__(self, st: Store, *, webhook_url: str | None, secret: str, events: set[str], state_dir: Path) -> None:
        self.store = st
        self.webhook_url = webhook_url
        self.secret = secret
        self.events = events  # subscribed events (the manifest's default_events)
        self.faults = DeliveryFaults()
        self._queues: dict[str, deque[dict[str, Any]]] = {}
        self._senders: dict[str, asyncio.Task] = {}
        self._session: aiohttp.ClientSession | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.deliveries_path = Path(state_dir) / "deliveries.jsonl"
        self.deliveries: list[dict[str, Any]] = []  # every attempt, newest last
        if self.deliveries_path.exists():
            for line in self.deliveries_path.read_text().splitlines():
                if line.strip():
                    self.deliveries.append(json.loads(line))
        self.paused = False  # the test driver may hold deliveries (a bot that is down)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))

    async def close(self) -> None:
        for task in self._senders.values():
            task.cancel()
        await asyncio.gather(*self._senders.values(), return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    # composing ------------------------------------------------------------------------------
    def emit(self, event: str, payload: dict[str, Any], *, repo: dict[str, Any] | None, sender: str) -> None:
        """Queue one event. payload holds the event's own keys ("action", "pull_request", ...);
        repository, sender, installation and organization are added here as GitHub adds them."""
        if event not in self.events:
            return
        from bot.sandbox import render

        body = dict(payload)
        if repo is not None:
            body["repository"] = render.repository(self.store, repo)
            owner = self.store.find_user(repo["owner"]["login"]) or {}
            if owner.get("type") == "Organization":
                body["organization"] = render.organization(self.store, owner["login"])
            inst = self.store.installation_for(repo["owner"]["login"])
            body["installation"] = {"id": inst["id"], "node_id": render.node("Installation", inst["id"])}
        body["sender"] = render.user(self.store, sender)
        key = repo["full_name"].lower() if repo is not None else "_"
        delivery = {
            "guid": str(uuid.uuid4()),
            "event": event,
            "action": payload.get("action"),
            "payload": body,
            "repository_id": repo["id"] if repo is not None else None,
            "installation_id": body.get("installation", {}).get("id"),
        }
        self._enqueue(key, delivery)

    def _enqueue(self, key: str, delivery: dict[str, Any]) -> None:
        queue = self._queues.setdefault(key, deque())
        queue.append(delivery)
        if self.faults.duplicate and self.faults.rng.random() < self.faults.duplicate:
            queue.append(dict(delivery))
        self._idle.clear()
        if key not in self._senders or self._senders[key].done():
            self._senders[key] = asyncio.get_running_loop().create_task(self._send_all(key))

    # sending --------------------------------------------------------------------------------
    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()

    async def _send_all(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                while self.paused:
                    await asyncio.sleep(0.05)
                if len(queue) > 1 and self.faults.reorder and self.faults.rng.random() < self.faults.reorder:
                    queue[0], queue[1] = queue[1], queue[0]
                delivery = queue.popleft()
                if self.faults.delay and self.faults.rng.random() < self.faults.delay:
                    await asyncio.sleep(self.faults.rng.uniform(0, self.faults.max_delay_seconds))
                await self.send(delivery, redelivery=False)
        finally:
            self._check_idle()

    def _check_idle(self) -> None:
        if all(not q for q in self._queues.values()) and all(
            t.done() or t is asyncio.current_task() for t in self._senders.values()
        ):
            self._idle.set()

    async def send(self, delivery: dict[str, Any], *, redelivery: bool) -> dict[str, Any]:
        """POST one delivery to the webhook URL and record the attempt."""
        body = json.dumps(delivery["payload"], separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/sandbox",
            "X-GitHub-Event": delivery["event"],
            "X-GitHub-Delivery": delivery["guid"],
            "X-GitHub-Hook-ID": "1",
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            "X-GitHub-Hook-Installation-Target-ID": str(self.store.data["app"].get("id", 1)),
            "X-Hub-Signature-256": self.sign(body),
        }
        started = time.monotonic()
        status, response_body = 0, ""
        if self.webhook_url and self._session is not None:
            try:
                async with self._session.post(self.webhook_url, data=body, headers=headers) as resp:
                    status = resp.status
                    response_body = (await resp.text())[:2000]
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                response_body = f"{exc.__class__.__name__}: {exc}"
        record = {
            "id": self.store.new_id(),
            "guid": delivery["guid"],
            "delivered_at": now_iso(),
            "redelivery": redelivery,
            "duration": round(time.monotonic() - started, 3),
            "status": "OK" if 200 <= status < 300 else ("Invalid HTTP Response: %d" % status if status else "failed to connect"),
            "status_code": status,
            "event": delivery["event"],
            "action": delivery.get("action"),
            "installation_id": delivery.get("installation_id"),
            "repository_id": delivery.get("repository_id"),
            "request": {"headers": headers, "payload": delivery["payload"]},
            "response": {"headers": {}, "payload": response_body},
        }
        self.deliveries.append(record)
        with self.deliveries_path.open("a") as out:
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
        return record

    async def wait_idle(self) -> None:
        while True:
            await self._idle.wait()
            if all(not q for q in self._queues.values()) and all(t.done() for t in self._senders.values()):
                return
            await asyncio.sleep(0.01)

    def pending(self) -> int:
        return sum(len(q) for q in self._queues.values())
