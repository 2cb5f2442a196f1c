"""Webhook deliveries: composed like GitHub's, signed, sent in order per repository, recorded for redelivery.

Every attempt is appended to `deliveries.jsonl` in the state dir (headers, payload and the answer);
memory holds only a small index of it, so a long run stays small and a restart keeps the history.
"""

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import aiohttp

from bot.sandbox.state import Store, now_iso

log = logging.getLogger("release_train.sandbox.hooks")

# GitHub gives a delivery 10 seconds before it records "timed out".
DELIVERY_TIMEOUT = 10.0
INDEX_KEYS = (
    "id",
    "guid",
    "delivered_at",
    "redelivery",
    "duration",
    "status",
    "status_code",
    "event",
    "action",
    "installation_id",
    "repository_id",
    "throttled_at",
)


@dataclass
class DeliveryFaults:
    """Delivery misbehaviour GitHub allows itself: late, twice, out of order (seeded).

    Every random choice is drawn when an event is queued, so one seed and one sequence of
    events give the same faults whatever the timing.
    """

    delay: float = 0.0  # fraction of deliveries held back a little
    duplicate: float = 0.0  # fraction sent twice (same X-GitHub-Delivery)
    reorder: float = 0.0  # fraction that let the next delivery for the same repository overtake them
    max_delay_seconds: float = 0.3
    rng: random.Random = field(default_factory=lambda: random.Random(0))


def push_repository(st: Store, repository: dict[str, Any]) -> dict[str, Any]:
    """A push names its repository the old way: the owner carries name and email, and times are unix seconds."""
    from datetime import datetime

    from bot.sandbox import render

    shaped = dict(repository)
    owner = dict(shaped["owner"])
    is_org = owner.get("type") == "Organization"
    owner["name"] = owner["login"]
    owner["email"] = None if is_org else render.person_email(st, owner["login"])
    shaped["owner"] = owner
    for key in ("created_at", "pushed_at"):
        if isinstance(shaped.get(key), str):
            shaped[key] = int(datetime.strptime(shaped[key], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())
    return shaped


class Hooks:
    """Composes events, signs them, and sends them to the app's webhook URL."""

    def __init__(self, st: Store, *, webhook_url: str | None, secret: str, events: set[str], state_dir: Path) -> None:
        self.store = st
        self.webhook_url = webhook_url
        self.secret = secret
        self.events = events  # subscribed events (the manifest's default_events)
        self.faults = DeliveryFaults()
        self.paused = False  # hold deliveries until unpaused (GitHub having an outage)
        self.down = False  # the app's URL refuses connections: each attempt is recorded as failed
        self.timeout = DELIVERY_TIMEOUT  # seconds the app has to answer
        self._queues: dict[str, deque[dict[str, Any]]] = {}
        self._senders: dict[str, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._wake = asyncio.Event()
        self._in_flight = 0
        self.deliveries_path = Path(state_dir) / "deliveries.jsonl"
        self.pending_path = Path(state_dir) / "deliveries-pending.jsonl"  # queued at shutdown, sent on start
        self.deliveries: list[dict[str, Any]] = []  # the index: INDEX_KEYS plus "offset", oldest first
        self._by_id: dict[int, dict[str, Any]] = {}
        if self.deliveries_path.exists():
            self._load_index()

    def _load_index(self) -> None:
        offset = 0
        with self.deliveries_path.open("rb") as source:
            for line in source:
                if line.strip():
                    try:
                        record = json.loads(line)
                    except ValueError:  # a line cut short by a crash: drop it so later appends stay readable
                        break
                    self._index(record, offset)
                offset += len(line)
        if offset < self.deliveries_path.stat().st_size:
            with self.deliveries_path.open("r+b") as target:
                target.truncate(offset)

    def _index(self, record: dict[str, Any], offset: int) -> None:
        entry: dict[str, Any] = {k: record.get(k) for k in INDEX_KEYS}
        entry["offset"] = offset
        self.deliveries.append(entry)
        self._by_id[entry["id"]] = entry

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        if self.pending_path.exists():
            # Deliveries that were still queued when the sandbox stopped go out now, in their order.
            for line in self.pending_path.read_text().splitlines():
                try:
                    delivery = json.loads(line)
                except ValueError:
                    continue
                delivery["body"] = delivery["body"].encode()
                self._enqueue(self._key(delivery), delivery, faults=False)
            self.pending_path.unlink()

    async def close(self) -> None:
        for task in self._senders.values():
            task.cancel()
        await asyncio.gather(*self._senders.values(), return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        queued = [delivery for queue in self._queues.values() for delivery in queue]
        if queued:
            with self.pending_path.open("a") as out:
                for delivery in queued:
                    out.write(json.dumps({**delivery, "body": delivery["body"].decode()}, separators=(",", ":")) + "\n")
            self._queues.clear()

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
        if event == "push" and repo is not None:
            body["repository"] = push_repository(self.store, body["repository"])
        delivery = {
            "guid": str(uuid.uuid4()),
            "event": event,
            "action": payload.get("action"),
            # Serialised now: the payload shows the moment of the event, however late it is sent.
            "body": json.dumps(body, separators=(",", ":")).encode(),
            "repository_id": repo["id"] if repo is not None else None,
            "installation_id": body.get("installation", {}).get("id"),
            "redelivery": False,
        }
        self._enqueue(self._key(delivery), delivery, faults=True)

    def ping(self, app: dict[str, Any], *, sender: str) -> None:
        """GitHub's ping to a newly made app webhook: sent whatever the app subscribes to."""
        from bot.sandbox import render

        hook_id = self.store.new_id()
        hook = {
            "type": "App",
            "id": hook_id,
            "name": "web",
            "active": True,
            "events": sorted(self.events),
            "config": {"content_type": "json", "insecure_ssl": "0", "url": self.webhook_url},
            "updated_at": app["created_at"],
            "created_at": app["created_at"],
            "app_id": app["id"],
            "deliveries_url": render.api("/app/hook/deliveries"),
            "ping_url": render.api("/app/hook/pings"),
            "test_url": render.api("/app/hook/test"),
            "url": render.api("/app/hook/config"),
            "last_response": {"code": None, "status": "unused", "message": None},
        }
        body = {"zen": "Keep it logically awesome.", "hook_id": hook_id, "hook": hook}
        body["sender"] = render.user(self.store, sender)
        delivery = {
            "guid": str(uuid.uuid4()),
            "event": "ping",
            "action": None,
            "body": json.dumps(body, separators=(",", ":")).encode(),
            "repository_id": None,
            "installation_id": None,
            "redelivery": False,
        }
        self._enqueue(self._key(delivery), delivery, faults=False)

    @staticmethod
    def _key(delivery: dict[str, Any]) -> str:
        return str(delivery.get("repository_id") or "_")

    def redeliver(self, record: dict[str, Any]) -> None:
        """Send a recorded delivery again: same guid and payload, marked as a redelivery."""
        delivery = {
            "guid": record["guid"],
            "event": record["event"],
            "action": record.get("action"),
            "body": json.dumps(record["request"]["payload"], separators=(",", ":")).encode(),
            "repository_id": record.get("repository_id"),
            "installation_id": record.get("installation_id"),
            "redelivery": True,
        }
        self._enqueue(self._key(delivery), delivery, faults=False)

    def _enqueue(self, key: str, delivery: dict[str, Any], *, faults: bool) -> None:
        queue = self._queues.setdefault(key, deque())
        if faults:
            rng = self.faults.rng
            if self.faults.delay and rng.random() < self.faults.delay:
                delivery["delay"] = rng.uniform(0, self.faults.max_delay_seconds)
            if self.faults.reorder and rng.random() < self.faults.reorder:
                delivery["overtake"] = True
            duplicate = bool(self.faults.duplicate and rng.random() < self.faults.duplicate)
        else:
            duplicate = False
        queue.append(delivery)
        if duplicate:
            queue.append({**delivery, "delay": 0.0, "overtake": False})
        self._wake.set()
        if key not in self._senders or self._senders[key].done():
            self._senders[key] = asyncio.get_running_loop().create_task(self._send_all(key))

    # sending --------------------------------------------------------------------------------
    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()

    def sign_sha1(self, body: bytes) -> str:
        return "sha1=" + hmac.new(self.secret.encode(), body, hashlib.sha1).hexdigest()

    async def _send_all(self, key: str) -> None:
        queue = self._queues[key]
        while queue:
            while self.paused:
                self._wake.clear()
                await self._wake.wait()
            self._in_flight += 1
            try:
                await self._send_head(queue)
            finally:
                self._in_flight -= 1

    async def _send_head(self, queue: deque[dict[str, Any]]) -> None:
        delivery = queue[0]
        if delivery.get("overtake"):
            # Let the next event for this repository (if one comes soon) go first.
            deadline = time.monotonic() + self.faults.max_delay_seconds
            while len(queue) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            if len(queue) >= 2:
                queue[0], queue[1] = queue[1], queue[0]
                queue[1]["overtake"] = False
                delivery = queue[0]
            else:
                delivery["overtake"] = False
        if delivery.get("delay"):
            await asyncio.sleep(delivery["delay"])
        try:
            await self.send(delivery, redelivery=bool(delivery.get("redelivery")))
        except Exception:  # a sandbox bug must not stop later deliveries
            log.exception("delivery %s could not be recorded", delivery["guid"])
        # Only now: a shutdown in mid-send keeps the delivery queued (sent twice at worst, never lost).
        queue.popleft()

    def headers_for(self, delivery: dict[str, Any], body: bytes) -> dict[str, str]:
        app_id = str(self.store.data["app"].get("id", 1))
        return {
            "Accept": "*/*",
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/sandbox",
            "X-GitHub-Event": delivery["event"],
            "X-GitHub-Delivery": delivery["guid"],
            "X-GitHub-Hook-ID": app_id,
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            "X-GitHub-Hook-Installation-Target-ID": app_id,
            "X-Hub-Signature": self.sign_sha1(body),
            "X-Hub-Signature-256": self.sign(body),
        }

    async def send(self, delivery: dict[str, Any], *, redelivery: bool) -> dict[str, Any]:
        """POST one delivery to the webhook URL and record the attempt."""
        body = delivery["body"]
        headers = self.headers_for(delivery, body)
        started = time.monotonic()
        status_code, status, response_headers, response_body = 0, "failed to connect", {}, ""
        if self.webhook_url and self._session is not None and not self.down:
            try:
                timeout = aiohttp.ClientTimeout(total=self.timeout)
                async with self._session.post(self.webhook_url, data=body, headers=headers, timeout=timeout) as resp:
                    status_code = resp.status
                    response_headers = dict(resp.headers)
                    response_body = (await resp.text(errors="replace"))[:2000]
                status = "OK" if 200 <= status_code < 300 else f"Invalid HTTP Response: {status_code}"
            except TimeoutError:
                status = "timed out"
            except (aiohttp.ClientError, OSError) as exc:
                response_body = f"{exc.__class__.__name__}: {exc}"
        record = {
            "id": self.store.new_id(),
            "guid": delivery["guid"],
            "delivered_at": now_iso(),
            "redelivery": redelivery,
            "duration": round(time.monotonic() - started, 3),
            "status": status,
            "status_code": status_code,
            "event": delivery["event"],
            "action": delivery.get("action"),
            "installation_id": delivery.get("installation_id"),
            "repository_id": delivery.get("repository_id"),
            "throttled_at": None,
            "url": self.webhook_url or "",
            "request": {"headers": headers, "payload": json.loads(body)},
            "response": {"headers": response_headers, "payload": response_body},
        }
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self.deliveries_path.open("ab") as out:
            offset = out.tell()
            out.write(line)
        self._index(record, offset)
        return record

    # reading the record ---------------------------------------------------------------------
    def delivery_items(self, *, before: int | None = None) -> Iterator[dict[str, Any]]:
        """Index entries, newest first (GitHub's order), optionally only those older than id `before`."""
        for entry in reversed(self.deliveries):
            if before is not None and entry["id"] >= before:
                continue
            yield {k: entry[k] for k in INDEX_KEYS}

    def delivery(self, delivery_id: int) -> dict[str, Any] | None:
        """One attempt in full (request headers and payload, response), read back from disk."""
        entry = self._by_id.get(delivery_id)
        if entry is None:
            return None
        with self.deliveries_path.open("rb") as source:
            source.seek(entry["offset"])
            return json.loads(source.readline())

    # quiet ----------------------------------------------------------------------------------
    def _busy(self) -> bool:
        if self._in_flight:
            return True
        if self.paused:
            return False  # held deliveries wait for someone to unpause; nothing else moves
        return any(self._queues.values()) or any(not t.done() for t in self._senders.values())

    async def wait_idle(self) -> None:
        while self._busy():
            await asyncio.sleep(0.01)

    def pending(self) -> int:
        """Deliveries that will go out without anyone's help (held ones while paused do not count)."""
        if self.paused:
            return 0
        return sum(len(q) for q in self._queues.values())

    def held(self) -> int:
        return sum(len(q) for q in self._queues.values()) if self.paused else 0

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self._wake.set()
