"""Settings read once from the environment, with one clear message per missing or malformed variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, environment

PEM = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"
BASE = {"APP_ID": "12", "PRIVATE_KEY": PEM, "WEBHOOK_SECRET": "s3cret"}


def test_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.app_id == 12
    assert settings.webhook_secrets == ("s3cret",)
    assert settings.github_api_url == "https://api.github.com"
    assert (settings.port, settings.host, settings.log_format) == (3000, "0.0.0.0", "pretty")
    assert settings.state_url == "sqlite:///./var/release-train.db"  # ./var under the working directory
    assert (settings.writes_per_minute, settings.writes_per_hour) == (80, 500)
    assert settings.max_body_bytes == 25 * 1024 * 1024


def test_secrets_never_show_in_repr() -> None:
    text = repr(Settings.from_env(BASE))
    assert "s3cret" not in text and "PRIVATE KEY" not in text


@pytest.mark.parametrize(
    ("raw", "secrets"),
    [("new,old", ("new", "old")), (" new , old ", ("new", "old")), ("only", ("only",)), ("a,,b,", ("a", "b"))],
)
def test_rotation_secrets(raw: str, secrets: tuple[str, ...]) -> None:
    assert Settings.from_env({**BASE, "WEBHOOK_SECRET": raw}).webhook_secrets == secrets


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"WEBHOOK_SECRET": ""}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_SECRET": None}, "WEBHOOK_SECRET"),
        ({"PRIVATE_KEY": None}, "PRIVATE_KEY"),
        ({"PRIVATE_KEY": "not a key"}, "PRIVATE_KEY"),
        ({"PRIVATE_KEY": None, "PRIVATE_KEY_PATH": "/nonexistent/key.pem"}, "PRIVATE_KEY_PATH"),
        ({"APP_ID": None}, "APP_ID"),
        ({"APP_ID": "twelve"}, "APP_ID"),
        ({"PORT": "http"}, "PORT"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"WRITES_PER_MINUTE": "many"}, "WRITES_PER_MINUTE"),
    ],
)
def test_bad_settings_name_the_variable(change: dict[str, str | None], named: str) -> None:
    env = {**BASE, **{k: v for k, v in change.items() if v is not None}}
    for key, value in change.items():
        if value is None:
            env.pop(key, None)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert named in str(caught.value)
    assert "\n" not in str(caught.value)


def test_key_from_a_file_and_escaped_newlines(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text(PEM)
    env = {k: v for k, v in BASE.items() if k != "PRIVATE_KEY"}
    assert Settings.from_env({**env, "PRIVATE_KEY_PATH": str(key)}).private_key == PEM
    assert Settings.from_env({**BASE, "PRIVATE_KEY": PEM.replace("\n", "\\n")}).private_key == PEM


def test_enterprise_server_urls() -> None:
    assert (
        Settings.from_env({**BASE, "GITHUB_API_URL": "https://ghe.example/api/v3/"}).github_api_url
        == "https://ghe.example/api/v3"
    )
    assert Settings.from_env({**BASE, "GHE_HOST": "ghe.example"}).github_api_url == "https://ghe.example/api/v3"
    assert (
        Settings.from_env({**BASE, "GHE_HOST": "ghe.local", "GHE_PROTOCOL": "http"}).github_api_url
        == "http://ghe.local/api/v3"
    )


def test_queue_and_pacing_settings() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "STATE_URL": "redis://127.0.0.1:6379/2",
            "WORKER_CONCURRENCY": "3",
            "MAX_ATTEMPTS": "2",
            "WRITES_PER_MINUTE": "10",
            "WRITES_PER_HOUR": "100",
            "RETRY_BASE_SECONDS": "0.5",
            "LOG_FORMAT": "JSON",
        }
    )
    assert settings.state_url == "redis://127.0.0.1:6379/2"
    assert (settings.concurrency, settings.max_attempts) == (3, 2)
    assert (settings.writes_per_minute, settings.writes_per_hour) == (10, 100)
    assert settings.retry_base_seconds == 0.5
    assert settings.log_format == "json"


# .env ------------------------------------------------------------------------------------------
def test_a_dotenv_file_fills_in_what_the_environment_does_not_set(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# written by release-train setup\nAPP_ID=4242\nWEBHOOK_SECRET='from file'\nPORT=3000\nLOG_LEVEL=${HOME}\n"
    )
    merged = environment(env_file, {"PORT": "8080", "OTHER": "x"})
    assert merged["APP_ID"] == "4242"
    assert merged["WEBHOOK_SECRET"] == "from file"
    assert merged["PORT"] == "8080"  # the environment wins
    assert merged["OTHER"] == "x"
    assert merged["LOG_LEVEL"] == "${HOME}"  # taken as written, never expanded


def test_no_dotenv_file_means_the_environment_alone(tmp_path: Path) -> None:
    assert environment(tmp_path / ".env", {"APP_ID": "1"}) == {"APP_ID": "1"}
    (tmp_path / "dir.env").mkdir()
    assert environment(tmp_path / "dir.env", {}) == {}


def test_every_missing_or_malformed_setting_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"PORT": "http", "LOG_FORMAT": "xml"})
    message = str(caught.value)
    for name in ("WEBHOOK_SECRET", "PRIVATE_KEY", "APP_ID", "PORT", "LOG_FORMAT"):
        assert name in message, name
    assert "\n" not in message  # one line


def test_the_default_database_is_var_under_the_working_directory() -> None:
    from bot.queue.sqlite import sqlite_path

    assert sqlite_path(Settings.from_env(BASE).state_url) == Path("var/release-train.db")
    assert not sqlite_path(Settings.from_env(BASE).state_url).is_absolute()
    assert sqlite_path("sqlite:////data/release-train.db") == Path("/data/release-train.db")
