"""The webhook server over real HTTP: signatures, sizes, content types, bad input, dedupe, ping, health, metrics."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import sqlite3
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import seed
from bot.sandbox.common import HOOKS, STORE
from bot.sandbox.harness import WEBHOOK_SECRET, World
from bot.server import METRICS, QUEUE, SETTINGS, signature_ok
from deliveries import example, example_payloads, headers_for, post, sign

PROJECT = Path(__file__).resolve().parents[1]


# A real `issues` `opened` delivery, for a repository the bot is not installed on.
PAYLOAD = json.dumps(example("issues", "opened")).encode()


def metric(world: World, name: str, labels: dict[str, str]) -> float:
    assert world.bot_app is not None
    return world.bot_app[METRICS].value(name, labels)


def samples(world: World, name: str) -> dict[tuple[str, ...], float]:
    """Every labelled sample of a counter (labels' values -> count); the counter must exist, so a rename fails here."""
    assert world.bot_app is not None
    families = [f for f in world.bot_app[METRICS].registry.collect() if f.name == name.removesuffix("_total")]
    assert families, f"the bot has no metric {name}"
    return {tuple(s.labels.values()): s.value for f in families for s in f.samples if s.name == name}


def unfinished_attempts(world: World) -> dict[str, float]:
    """Job attempts that did not end done or ignored, by outcome."""
    return {k: metric(world, "release_train_jobs_total", {"outcome": k}) for k in ("retry", "failed", "dead")}


# signatures ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        (lambda body: sign(body), True),
        (lambda body: None, False),
        (lambda body: "", False),
        (lambda body: sign(body, "other-secret"), False),
        (lambda body: sign(body + b" "), False),
        (lambda body: "sha256=zz", False),
        (lambda body: "sha1=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha1).hexdigest(), False),
    ],
    ids=["valid", "missing", "empty", "wrong-secret", "other-body", "garbage", "sha1-only"],
)
async def test_signature_is_checked_over_the_raw_body(world: World, header: Any, accepted: bool) -> None:
    headers = headers_for(PAYLOAD)
    value = header(PAYLOAD)
    if value is None:
        headers.pop("X-Hub-Signature-256")
    else:
        headers["X-Hub-Signature-256"] = value
    status, _ = await post(world, PAYLOAD, headers)
    assert status == (202 if accepted else 401)


async def test_a_sha1_signature_alongside_a_wrong_sha256_is_refused(world: World) -> None:
    headers = headers_for(
        PAYLOAD, **{"X-Hub-Signature": "sha1=" + hmac.new(WEBHOOK_SECRET.encode(), PAYLOAD, hashlib.sha1).hexdigest()}
    )
    headers["X-Hub-Signature-256"] = sign(PAYLOAD, "wrong")
    assert (await post(world, PAYLOAD, headers))[0] == 401


def test_rotation_accepts_either_secret() -> None:
    body = b'{"zen": "x"}'
    secrets = ("new-secret", "old-secret")
    assert signature_ok(secrets, body, sign(body, "new-secret"))
    assert signature_ok(secrets, body, sign(body, "old-secret"))
    assert not signature_ok(secrets, body, sign(body, "older-secret"))
    assert not signature_ok((), body, sign(body, "new-secret"))


async def test_rotation_over_http(world: World) -> None:
    await world.stop_bot()
    await world.start_bot(
        world.bot_settings(
            webhook_secrets=("fresh-secret", WEBHOOK_SECRET),
            state_url=f"sqlite:///{world.sandbox.config.state_dir}/rot.db",
        )
    )
    for secret in ("fresh-secret", WEBHOOK_SECRET):
        headers = headers_for(PAYLOAD)
        headers["X-Hub-Signature-256"] = sign(PAYLOAD, secret)
        assert (await post(world, PAYLOAD, headers))[0] == 202
    headers = headers_for(PAYLOAD)
    headers["X-Hub-Signature-256"] = sign(PAYLOAD, "stale-secret")
    assert (await post(world, PAYLOAD, headers))[0] == 401


# sizes, content types, malformed input ---------------------------------------------------------
async def test_a_body_over_the_limit_gets_413_before_parsing(world: World) -> None:
    await world.stop_bot()
    await world.start_bot(
        world.bot_settings(max_body_bytes=1024, state_url=f"sqlite:///{world.sandbox.config.state_dir}/small.db")
    )
    big = b'{"a": "' + b"x" * 2000 + b'"}'
    status, _ = await post(world, big, headers_for(big))
    assert status == 413
    # Not JSON and unsigned: the size alone decides, nothing is parsed or verified first.
    status, _ = await post(world, b"x" * 5000, {"Content-Type": "application/json"})
    assert status == 413


async def test_a_chunked_body_over_the_limit_gets_413(world: World) -> None:
    await world.stop_bot()
    await world.start_bot(
        world.bot_settings(max_body_bytes=1024, state_url=f"sqlite:///{world.sandbox.config.state_dir}/small.db")
    )
    big = b'{"a": "' + b"x" * 5000 + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(big), 500):
            yield big[i : i + 500]

    assert world.bot_url is not None
    async with world.session.post(world.bot_url, data=chunks(), headers=headers_for(big)) as resp:
        assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
        assert resp.status == 413
    small = b'{"a": 1}'

    async def small_chunks() -> AsyncIterator[bytes]:
        yield small[:3]
        yield small[3:]

    async with world.session.post(world.bot_url, data=small_chunks(), headers=headers_for(small)) as resp:
        assert resp.status == 202


async def test_the_25_mib_default(world: World) -> None:
    big = b"{" + b" " * (25 * 1024 * 1024) + b"}"
    status, _ = await post(world, big, headers_for(big))
    assert status == 413
    fits = b"{" + b" " * (25 * 1024 * 1024 - 3) + b"}"
    status, _ = await post(world, fits, headers_for(fits))
    assert status == 202


@pytest.mark.parametrize(
    ("body", "drop", "expected"),
    [
        (b"not json", None, 400),
        (b'{"truncated": ', None, 400),
        (b"[1, 2, 3]", None, 400),
        (b'"a string"', None, 400),
        (b"", None, 400),
        (b"\xff\xfe", None, 400),
        (PAYLOAD, "X-GitHub-Event", 400),
        (PAYLOAD, "X-GitHub-Delivery", 400),
    ],
    ids=["not-json", "truncated-json", "array", "string", "empty", "binary", "no-event", "no-delivery"],
)
async def test_malformed_deliveries_get_400(world: World, body: bytes, drop: str | None, expected: int) -> None:
    headers = headers_for(body)
    if drop:
        headers.pop(drop)
    status, _ = await post(world, body, headers)
    assert status == expected


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"])
async def test_unsupported_content_types_get_415(world: World, content_type: str) -> None:
    headers = headers_for(PAYLOAD, **{"Content-Type": content_type})
    status, _ = await post(world, PAYLOAD, headers)
    assert status == 415


async def test_json_with_a_charset_is_accepted(world: World) -> None:
    headers = headers_for(PAYLOAD, **{"Content-Type": "application/json; charset=utf-8"})
    assert (await post(world, PAYLOAD, headers))[0] == 202


async def test_the_form_encoded_format_is_accepted(world: World) -> None:
    form = urllib.parse.urlencode({"payload": PAYLOAD.decode()}).encode()
    delivery = str(uuid.uuid4())
    headers = headers_for(form, delivery=delivery, **{"Content-Type": "application/x-www-form-urlencoded"})
    assert (await post(world, form, headers))[0] == 202
    await world.settle()
    assert world.bot_app is not None
    assert await world.bot_app[QUEUE].state_of(delivery) in ("done", "ignored")
    # A form without the payload field is not a delivery.
    empty = b"other=1"
    headers = headers_for(empty, **{"Content-Type": "application/x-www-form-urlencoded"})
    assert (await post(world, empty, headers))[0] == 400


# ping, dedupe, health, metrics ------------------------------------------------------------
async def test_ping_gets_200(world: World) -> None:
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    status, answer = await post(world, body, headers_for(body, event="ping"))
    assert status == 200
    assert answer["zen"] == "Keep it logically awesome."


async def test_a_seen_delivery_is_acknowledged_and_not_queued_again(world: World) -> None:
    delivery = str(uuid.uuid4())
    first = await post(world, PAYLOAD, headers_for(PAYLOAD, delivery=delivery))
    second = await post(world, PAYLOAD, headers_for(PAYLOAD, delivery=delivery))
    assert first == (202, {"ok": True, "queued": True})
    assert second == (202, {"ok": True, "queued": False})
    await world.settle()
    assert metric(world, "release_train_deliveries_total", {"event": "issues", "outcome": "duplicate"}) == 1
    assert (
        metric(world, "release_train_jobs_total", {"outcome": "ignored"})
        + metric(world, "release_train_jobs_total", {"outcome": "done"})
        == 1
    )


async def test_a_delivery_is_queued_in_its_repositorys_line_the_one_its_sweep_joins(world: World) -> None:
    """Jobs run one at a time per repository only when a webhook's job and the sweep's share the key."""
    await seed.create_org_repo(world, "acme", "app", admin="alice", files={"README.md": "# app\n"})
    answer = await world.call("alice", "POST", "/repos/acme/app/issues", {"title": "Where we talk"})
    assert answer.status == 201, answer.body
    await world.settle()
    guid = next(r["guid"] for r in world.app[HOOKS].deliveries if r["event"] == "issues" and r["action"] == "opened")
    assert world.bot_app is not None
    db = world.bot_app[SETTINGS].state_url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT repo_key, installation_id FROM jobs WHERE delivery_id=?", (guid,)).fetchone()
    installation = world.app[STORE].installation_for("acme")["id"]
    # The sweep files its job under the repository's full name (bot/catchup.py), so this is one line.
    assert row == ("acme/app", installation)


async def test_healthz_and_metrics(world: World) -> None:
    assert world.bot_url is not None
    base = world.bot_url.removesuffix("/webhook")
    async with world.session.get(base + "/healthz") as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        assert (await resp.json())["status"] == "ok"
    await post(world, PAYLOAD, headers_for(PAYLOAD))
    await world.settle()
    async with world.session.get(base + "/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    for name in (
        "release_train_deliveries_total",
        "release_train_ack_seconds_bucket",
        "release_train_job_seconds_bucket",
        "release_train_queue_depth",
        "release_train_github_calls_total",
        "release_train_retries_total",
        "release_train_dead_letters_total",
    ):
        assert name in text, name
    assert 'release_train_deliveries_total{event="issues",outcome="queued"} 1.0' in text


async def test_a_store_that_refuses_writes_gets_503_not_500(world: World) -> None:
    assert world.bot_app is not None
    queue = world.bot_app[QUEUE]
    # A real SQLite refusal: the connection is switched to read-only under the running server.
    await queue._db(lambda: queue._conn.execute("PRAGMA query_only=ON"))
    status, _ = await post(world, PAYLOAD, headers_for(PAYLOAD))
    assert status == 503
    await queue._db(lambda: queue._conn.execute("PRAGMA query_only=OFF"))
    assert (await post(world, PAYLOAD, headers_for(PAYLOAD)))[0] == 202


# every real payload -------------------------------------------------------------------------
async def test_every_real_payload_is_acknowledged_and_no_job_crashes(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="release_train")
    payloads = example_payloads()
    assert len(payloads) > 300
    statuses: dict[int, int] = {}
    for event, payload in payloads:
        body = json.dumps(payload).encode()
        status, _ = await post(world, body, headers_for(body, event=event))
        statuses[status] = statuses.get(status, 0) + 1
    await world.settle()
    pings = sum(1 for e, _ in payloads if e == "ping")
    expected = {202: len(payloads) - pings, **({200: pings} if pings else {})}
    assert statuses == expected
    crashed = [r.getMessage() for r in caplog.records if getattr(r, "job_failure", None)]
    assert samples(world, "release_train_job_crashes_total") == {}, crashed[:5]
    assert unfinished_attempts(world) == {"retry": 0, "failed": 0, "dead": 0}, crashed[:5]
    finished = sum(metric(world, "release_train_jobs_total", {"outcome": kind}) for kind in ("done", "ignored"))
    assert finished == sum(1 for e, _ in payloads if e != "ping")


# the command line -------------------------------------------------------------------------------
def serve_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """`release-train serve`'s environment: a made-up app (GitHub unreachable), no catch-up rounds."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    env = {
        k: v for k, v in os.environ.items() if k not in ("WEBHOOK_SECRET", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "APP_ID")
    }
    env.update(
        {
            "WEBHOOK_SECRET": "s",
            "PRIVATE_KEY": key.decode(),
            "APP_ID": "1",
            "PORT": "0",
            "HOST": "127.0.0.1",
            "STATE_URL": f"sqlite:///{tmp_path}/q.db",
            "GITHUB_API_URL": "http://127.0.0.1:9",
            "REDELIVERY_INTERVAL_SECONDS": "0",
            "SWEEP_INTERVAL_SECONDS": "0",
            **extra,
        }
    )
    return env


@pytest.mark.parametrize(
    "missing",
    [("WEBHOOK_SECRET",), ("PRIVATE_KEY",), ("APP_ID",), ("WEBHOOK_SECRET", "PRIVATE_KEY", "APP_ID")],
    ids=["secret", "key", "app-id", "all-three"],
)
def test_serve_refuses_to_start_without_a_required_setting_and_names_them_all(
    tmp_path: Path, missing: tuple[str, ...]
) -> None:
    env = serve_env(tmp_path)
    for name in missing:
        env.pop(name)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for name in missing:
        assert name in lines[0]


async def test_a_second_serve_on_a_database_in_use_refuses_before_it_says_listening(tmp_path: Path) -> None:
    import asyncio

    from fault_scenarios import free_port, wait_until

    port = free_port()
    first_log = (tmp_path / "first.log").open("wb")
    first = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        env=serve_env(tmp_path, PORT=str(port)),
        cwd=tmp_path,
        stdout=first_log,
        stderr=first_log,
    )
    try:

        async def first_listens() -> bool:
            return "listening" in (tmp_path / "first.log").read_text()

        await wait_until(first_listens, "the first serve to listen")
        second = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "serve"],
            env=serve_env(tmp_path, PORT=str(free_port())),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2
        assert "in use by another release-train process" in second.stderr
        assert str((tmp_path / "q.db").resolve()) in second.stderr  # the message names the database
        assert "listening" not in second.stderr + second.stdout
        # The control: the first still serves.
        import aiohttp

        async with aiohttp.ClientSession() as client, client.get(f"http://127.0.0.1:{port}/healthz") as resp:
            assert resp.status == 200
    finally:
        first.terminate()
        first.wait(timeout=30)
        first_log.close()


async def test_real_payloads_aimed_at_a_real_repository_reach_the_handlers_without_crashing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The same payloads, now naming a sandbox repository and installation, so every concern's handlers run on them.

    Handlers may fail the way GitHub makes them fail (a 404 for a PR the payload invents); none may
    crash with anything else (a KeyError on an unexpected shape, say), and no answer may be a 5xx.
    """

    from bot.sandbox import render, seed
    from bot.sandbox.common import STORE

    await seed.create_org_repo(world, "acme", "app", admin="alice")
    await world.settle()
    st = world.app[STORE]
    repository = render.repository(st, st.repo("acme", "app"))
    installation = {"id": st.installation_for("acme")["id"]}
    caplog.set_level(logging.INFO, logger="release_train")
    statuses: dict[int, int] = {}
    for event, payload in example_payloads():
        if event == "ping":
            continue
        aimed = {**payload, "repository": repository, "installation": installation}
        body = json.dumps(aimed).encode()
        status, _ = await post(world, body, headers_for(body, event=event))
        statuses[status] = statuses.get(status, 0) + 1
    await world.settle(timeout=240)
    assert set(statuses) == {202}
    crashes = samples(world, "release_train_job_crashes_total")
    report = sorted(
        {
            f"{r.event}: {r.exception}: {r.exc_info[1] if r.exc_info else ''}"
            for r in caplog.records
            if getattr(r, "job_failure", None) == "crash"
        }
    )
    outcomes = {
        k: metric(world, "release_train_jobs_total", {"outcome": k})
        for k in ("done", "ignored", "retry", "failed", "dead")
    }
    print(
        f"aimed payloads: {sum(statuses.values())} acknowledged, job outcomes {outcomes}, crashes {sum(crashes.values())}"
    )
    assert crashes == {}, report


@pytest.mark.parametrize(
    ("payload", "push_field"),
    [
        ({"repository": "acme/app", "installation": [1]}, "$.repository"),
        ({"repository": {"full_name": 7}, "installation": {"id": "1"}}, "$.repository.full_name"),
        (
            {
                "action": None,
                "pull_request": "nope",
                "repository": {"full_name": "no-slash"},
                "installation": {"id": 1},
            },
            "$.repository.id",
        ),
        ({"issue": {"number": "1"}, "comment": {}, "sender": None}, "$.sender"),
        ({}, "$.repository"),
    ],
    ids=["strings-for-objects", "wrong-types", "odd-values", "half-an-issue-comment", "empty-object"],
)
async def test_a_valid_signature_over_an_unexpected_shape_is_contained(
    world: World, payload: dict[str, Any], push_field: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Without an action no handler is routed to these events: acknowledged and ignored. A push is always routed,
    and none of these is a push GitHub sends: refused, naming the field."""
    caplog.set_level(logging.INFO, logger="release_train")
    body = json.dumps(payload).encode()
    for event in ("pull_request", "issue_comment", "issues", "check_run"):
        status, _ = await post(world, body, headers_for(body, event=event))
        assert status == 202
    delivery = str(uuid.uuid4())
    status, answer = await post(world, body, headers_for(body, event="push", delivery=delivery))
    assert status == 400
    assert answer["field"] == push_field
    await world.settle()
    assert world.bot_app is not None
    assert await world.bot_app[QUEUE].state_of(delivery) is None
    raised = [r.getMessage() for r in caplog.records if getattr(r, "job_failure", None)]
    assert samples(world, "release_train_job_crashes_total") == {}, raised
    assert unfinished_attempts(world) == {"retry": 0, "failed": 0, "dead": 0}, raised
    assert (
        metric(world, "release_train_jobs_total", {"outcome": "ignored"})
        + metric(world, "release_train_jobs_total", {"outcome": "done"})
        == 4
    )


def _set(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of payload with the dotted path set to value (or removed, for REMOVED)."""
    changed = json.loads(json.dumps(payload))
    *parents, last = path.split(".")
    node = changed
    for key in parents:
        node = node[key]
    if value is REMOVED:
        del node[last]
    else:
        node[last] = value
    return changed


REMOVED = object()


@pytest.mark.parametrize(
    ("event", "action", "path", "value", "field"),
    [
        ("pull_request", "labeled", "pull_request.head.sha", 5, "$.pull_request.head.sha"),
        ("pull_request", "labeled", "pull_request.head.sha", REMOVED, "$.pull_request.head.sha"),
        ("pull_request", "labeled", "label", {"name": None, "id": 1}, "$.label.name"),
        ("pull_request", "closed", "pull_request.labels", {"name": "bug"}, "$.pull_request.labels"),
        ("issue_comment", "created", "comment", "nope", "$.comment"),
        ("issue_comment", "created", "comment.body", None, "$.comment.body"),
        ("issues", "opened", "repository", "acme/app", "$.repository"),
        ("issues", "labeled", "sender", None, "$.sender"),
        ("push", None, "ref", REMOVED, "$.ref"),
        ("push", None, "commits", [{"id": "abc"}], "$.commits[0].tree_id"),
        ("status", None, "branches", None, "$.branches"),
        ("check_run", "completed", "check_run.output", None, "$.check_run.output"),
        ("check_suite", "completed", "check_suite.head_sha", ["abc"], "$.check_suite.head_sha"),
    ],
)
async def test_a_payload_github_does_not_send_gets_400_naming_the_field_and_is_not_stored(
    world: World, event: str, action: str | None, path: str, value: Any, field: str
) -> None:
    real = example(event, action)
    # The control: GitHub's own payload is stored and acknowledged.
    body = json.dumps(real).encode()
    status, _ = await post(world, body, headers_for(body, event=event))
    assert status == 202
    # The same delivery with one field as GitHub never sends it.
    body = json.dumps(_set(real, path, value)).encode()
    delivery = str(uuid.uuid4())
    status, answer = await post(world, body, headers_for(body, event=event, delivery=delivery))
    assert status == 400
    assert answer["field"] == field
    assert field in answer["error"]
    assert world.bot_app is not None
    assert await world.bot_app[QUEUE].state_of(delivery) is None
    assert metric(world, "release_train_deliveries_total", {"event": event, "outcome": "bad_payload"}) == 1


async def test_a_truncated_body_is_not_stored_and_the_server_carries_on(world: World) -> None:
    import asyncio

    assert world.bot_url is not None
    url = urllib.parse.urlsplit(world.bot_url)
    body = b'{"action": "opened", "issue": {"number": 1}}'
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    head = (
        f"POST /webhook HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) + 100}\r\nX-GitHub-Event: issues\r\nX-GitHub-Delivery: truncated-1\r\n"
        f"X-Hub-Signature-256: {sign(body)}\r\n\r\n"
    ).encode()
    writer.write(head + body[:20])
    await writer.drain()
    writer.write_eof()  # the sender goes away mid-body
    answer = await reader.read()
    writer.close()
    assert not answer.startswith(b"HTTP/1.1 5"), answer[:80]
    assert world.bot_app is not None
    assert await world.bot_app[QUEUE].state_of("truncated-1") is None
    status, _ = await post(world, PAYLOAD, headers_for(PAYLOAD))
    assert status == 202
