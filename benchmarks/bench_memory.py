"""Memory benchmark: the bot's resident memory after 10,000 and after 50,000 deliveries (durable mode).

Prints one JSON object. The target: growth from 10k to 50k deliveries under 10%, because every cache is
bounded (delivery ids, ETags, tokens, configs, memberships). Loopback only; stops by itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_ingest import SECRET, free_port, payload_bytes, wait_port

FIRST = int(os.environ.get("BENCH_FIRST", "10000"))
TOTAL = int(os.environ.get("BENCH_TOTAL", "50000"))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def send(port: int, body: bytes, count: int, concurrency: int = 32) -> int:
    import aiohttp

    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    url = f"http://127.0.0.1:{port}/webhook"
    failures = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                queue.get_nowait()
                headers = {
                    "Content-Type": "application/json",
                    "X-GitHub-Event": "pull_request",
                    "X-GitHub-Delivery": str(uuid.uuid4()),
                    "X-Hub-Signature-256": signature,
                }
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 202:
                        failures += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failures


def main() -> None:
    body = payload_bytes()
    key = subprocess.run(
        [
            sys.executable,
            "-c",
            "from cryptography.hazmat.primitives.asymmetric import rsa;from cryptography.hazmat.primitives import serialization as s;print(rsa.generate_private_key(public_exponent=65537,key_size=2048).private_bytes(s.Encoding.PEM,s.PrivateFormat.PKCS8,s.NoEncryption()).decode())",
        ],
        capture_output=True,
        text=True,
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {
            **os.environ,
            "APP_ID": "1",
            "PRIVATE_KEY": key,
            "WEBHOOK_SECRET": SECRET,
            "GITHUB_API_URL": "http://127.0.0.1:9",
            "STATE_URL": f"sqlite:///{tmp}/bot.db",
            "LOG_LEVEL": "ERROR",
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "REDELIVERY_INTERVAL_SECONDS": "3600",
            "SWEEP_INTERVAL_SECONDS": "3600",
        }
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "release-train"), "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_port(port)
            started = time.monotonic()
            failures = asyncio.run(send(port, body, FIRST))
            time.sleep(2)
            after_first = rss_kib(proc.pid)
            failures += asyncio.run(send(port, body, TOTAL - FIRST))
            time.sleep(2)
            after_total = rss_kib(proc.pid)
            seconds = time.monotonic() - started
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    growth = (after_total - after_first) / after_first
    print(
        json.dumps(
            {
                "benchmark": "memory",
                "payload_bytes": len(body),
                "deliveries": TOTAL,
                "non_202": failures,
                f"rss_mib_after_{FIRST}": round(after_first / 1024, 1),
                f"rss_mib_after_{TOTAL}": round(after_total / 1024, 1),
                "growth_percent": round(growth * 100, 2),
                "target_percent": 10,
                "met": growth < 0.10,
                "seconds": round(seconds, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
