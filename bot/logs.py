"""Logging: JSON lines or pretty text, carrying the delivery id, event, repository and installation."""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from collections.abc import Callable

import orjson

delivery_context: contextvars.ContextVar[dict[str, object]] = contextvars.ContextVar(
    "delivery_context",
    default={},  # noqa: B039 (never mutated: jobs set a fresh dict)
)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in delivery_context.get().items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


def _install_record_factory() -> None:
    """Every record made while a job runs carries its delivery id, event, repository and installation."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "release_train", False):
        return

    logging.setLogRecordFactory(_RecordFactory(previous))


class _RecordFactory:
    release_train = True  # marks the factory installed, so a second import does not wrap it again

    def __init__(self, previous: Callable[..., logging.LogRecord]) -> None:
        self.previous = previous

    def __call__(self, *args: object, **kwargs: object) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        for key, value in delivery_context.get().items():
            setattr(record, key, value)
        return record


_install_record_factory()


class RateLimitedWarning:
    """A warning that anyone can provoke, logged at most once per `interval` seconds; the next one says how
    many were suppressed in between. Each record carries `refused` (how many since the last record, itself
    included) and `suppressed` as fields."""

    def __init__(self, logger: logging.Logger, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self._last: float | None = None
        self.suppressed = 0

    def refused(self, message: str, *args: object) -> None:
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            self.suppressed += 1
            return
        if self.suppressed:
            message += " (%d more refused in the last %.0fs, not logged)"
            args = (*args, self.suppressed, now - (self._last or now))
        self.logger.warning(message, *args, extra={"refused": self.suppressed + 1, "suppressed": self.suppressed})
        self._last = now
        self.suppressed = 0


class JsonFormatter(logging.Formatter):
    FIELDS = ("delivery_id", "event", "repository", "installation_id", "refused", "suppressed")

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in self.FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def setup_logging(level: str = "INFO", fmt: str = "pretty") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
