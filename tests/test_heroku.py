"""Heroku: app.json, the Procfile and .python-version agree with the project, and the queue speaks rediss:// as the Redis add-on needs.

Heroku's Redis add-on sets REDIS_URL to a `rediss://` URL whose server presents a self-signed
certificate. The test starts a real redis-server with TLS on loopback, with a self-signed
certificate made here, and a password, as the add-on's are.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import json
import re
import shutil
import socket
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.queue import Delivery, StoreUnavailable
from bot.queue.backend import open_queue
from bot.queue.redis import without_password
from bot.settings import Settings, SettingsError
from fault_scenarios import free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "p4ss-w0rd"
BASE_ENV = {
    "APP_ID": "1",
    "PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----",
    "WEBHOOK_SECRET": "s",
}


def test_app_json_asks_for_what_serve_requires_and_adds_redis() -> None:
    app = json.loads((ROOT / "app.json").read_text())
    required = {name for name, spec in app["env"].items() if spec.get("required")}
    assert required == {"APP_ID", "PRIVATE_KEY", "WEBHOOK_SECRET"}
    for name in app["env"]:
        assert name in (ROOT / "bot" / "settings.py").read_text(), f"app.json sets {name}, which settings never read"
    assert [a["plan"].split(":")[0] for a in app["addons"]] == ["heroku-redis"]
    assert app["addons"][0].get("as", "REDIS") == "REDIS"  # so the add-on's URL is REDIS_URL
    assert app["env"]["REDIS_SSL_CERT_REQS"]["value"] == "none"
    assert (ROOT / "Procfile").read_text().strip() == "web: release-train serve"
    assert set(app["formation"]) == {"web"}


def test_python_version_is_one_the_project_and_its_image_run() -> None:
    version = (ROOT / ".python-version").read_text().strip()
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert re.fullmatch(r"3\.\d+", version) and requires == ">=3.11" and int(version.split(".")[1]) >= 11
    assert f"FROM python:{version}-slim" in (ROOT / "Dockerfile").read_text()


def test_the_add_ons_url_is_the_queue_unless_state_url_says_otherwise() -> None:
    heroku = Settings.from_env({**BASE_ENV, "REDIS_URL": "rediss://:pw@ec2.example.com:6380"})
    assert heroku.state_url == "rediss://:pw@ec2.example.com:6380" and heroku.redis_ssl_cert_reqs == "required"
    chosen = Settings.from_env({**BASE_ENV, "REDIS_URL": "rediss://h:1", "STATE_URL": "sqlite:///var/q.db"})
    assert chosen.state_url == "sqlite:///var/q.db"
    with pytest.raises(SettingsError, match="REDIS_SSL_CERT_REQS must be one of required, optional, none"):
        Settings.from_env({**BASE_ENV, "REDIS_SSL_CERT_REQS": "maybe"})
    assert without_password("rediss://:pw@h.example.com:6380/0") == "rediss://:***@h.example.com:6380/0"
    assert without_password("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


# rediss:// on a real redis-server ------------------------------------------------------------
def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "redis.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "redis.crt", directory / "redis.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@pytest.fixture(scope="module")
def rediss_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")  # tests/redis_server.py fails in CI when it is missing
    workdir = tmp_path_factory.mktemp("rediss")
    cert, key = self_signed(workdir)
    port = free_port()
    argv = [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--requirepass", PASSWORD]
    argv += ["--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert)]
    argv += ["--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--dir", str(workdir)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                    break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("redis-server with TLS exited at start: " + proc.stdout.read().decode()[-800:])  # type: ignore[union-attr]
                time.sleep(0.02)
        yield f"rediss://:{PASSWORD}@127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def heroku_settings(url: str, **env: str) -> Settings:
    settings = Settings.from_env({**BASE_ENV, "REDIS_URL": url, **env})
    return dataclasses.replace(settings, concurrency=1, retry_base_seconds=0.01)


async def test_a_self_signed_redis_is_refused_unless_verification_is_turned_off(rediss_url: str) -> None:
    ran: list[str] = []

    async def processor(delivery: Delivery) -> str:
        ran.append(delivery.id)
        return "done"

    # Verification stays on unless asked: Heroku's self-signed certificate is refused, and the
    # password never reaches the message that is logged.
    strict = open_queue(heroku_settings(rediss_url))
    with pytest.raises(StoreUnavailable, match="certificate verify failed") as refused:
        await strict.start(processor)
    assert PASSWORD not in str(refused.value) and ":***@127.0.0.1" in str(refused.value)
    await strict.stop()

    # As app.json sets it for the add-on: over TLS, unverified, the queue works.
    for settings in (
        heroku_settings(rediss_url, REDIS_SSL_CERT_REQS="none"),
        heroku_settings(rediss_url + "?ssl_cert_reqs=none"),  # or the URL says so itself
    ):
        queue = open_queue(settings)
        await queue.start(processor)
        try:
            delivery = Delivery(f"d-{len(ran)}", "issues", b"{}", "acme/shop", 1)
            assert await queue.put(delivery) is True
            assert await queue.put(delivery) is False  # seen before, in Redis

            async def processed(wanted: str = delivery.id) -> bool:
                return wanted in ran

            await wait_until(processed, "the job ran from the rediss:// queue")
        finally:
            await queue.stop()
