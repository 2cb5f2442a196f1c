"""One attempt at a job: run the processor, contain its failure, and decide between done, retry, failed and dead."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import gidgethub

from bot.github.client import TransientError, backoff
from bot.github.events import PayloadError
from bot.logs import delivery_context
from bot.queue import Delivery, FailureReporter, JobProcessor

if TYPE_CHECKING:
    from bot.metrics import Metrics

log = logging.getLogger("release_train.queue")


# How a job attempt failed, in its log record's `job_failure` field.
TRANSIENT = "transient"  # GitHub could not be reached or answered with a temporary failure
GITHUB = "github"  # GitHub answered with a refusal (a 4xx, a rate limit)
CRASH = "crash"  # anything else: a bug in the bot, also counted in release_train_job_crashes_total


@dataclass(frozen=True)
class Outcome:
    kind: str  # "done" | "ignored" | "retry" | "failed" (permanent, not retried) | "dead" (out of attempts)
    delay: float = 0.0
    error: str | None = None


def after_failure(
    exc: BaseException, *, attempts: int, max_attempts: int, base: float, cap: float, rng: random.Random | None = None
) -> Outcome:
    """What to do with a job whose attempt number `attempts` raised exc (pure but for the jitter)."""
    error = f"{exc.__class__.__name__}: {exc}"[:500]
    if isinstance(exc, PayloadError):
        return Outcome("failed", error=error)  # the stored body will not read differently next time
    if isinstance(exc, gidgethub.BadRequest) and not isinstance(exc, gidgethub.RateLimitExceeded):
        status = int(exc.status_code)
        if status not in (403, 429) or not _is_rate_limit(exc):
            # A 4xx answer is permanent: running the job again would get the same answer.
            return Outcome("failed", error=error)
    if attempts >= max_attempts:
        return Outcome("dead", error=error)
    delay = backoff(attempts, base, cap, rng)
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(exc, gidgethub.RateLimitExceeded):
        reset = exc.rate_limit.reset_datetime.timestamp() - time.time()
        retry_after = max(retry_after or 0.0, reset + 1.0)
    if isinstance(retry_after, (int, float)):
        delay = max(delay, float(retry_after))
    return Outcome("retry", delay=delay, error=error)


def _is_rate_limit(exc: gidgethub.BadRequest) -> bool:
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    return "retry-after" in headers or headers.get("x-ratelimit-remaining") == "0"


async def attempt(
    processor: JobProcessor,
    delivery: Delivery,
    *,
    attempt_number: int,
    max_attempts: int,
    retry_base: float,
    retry_cap: float,
    metrics: Metrics | None = None,
) -> Outcome:
    """Run one attempt. Any exception from a handler is contained here and becomes an outcome."""
    token = delivery_context.set(
        {
            "delivery_id": delivery.id,
            "event": delivery.event,
            "repository": delivery.repo_key,
            "installation_id": delivery.installation_id,
        }
    )
    started = time.monotonic()
    try:
        log.info("job started: delivery %s (%s) attempt %d", delivery.id, delivery.event, attempt_number)
        try:
            word = await processor(delivery)
            outcome = Outcome("ignored" if word == "ignored" else "done")
        except asyncio.CancelledError:
            raise
        except TransientError as exc:
            outcome = after_failure(
                exc, attempts=attempt_number, max_attempts=max_attempts, base=retry_base, cap=retry_cap
            )
            log.warning(
                "job attempt failed: delivery %s (%s): %s",
                delivery.id,
                delivery.event,
                exc,
                extra={"job_failure": TRANSIENT, "exception": exc.__class__.__name__},
            )
        except Exception as exc:
            outcome = after_failure(
                exc, attempts=attempt_number, max_attempts=max_attempts, base=retry_base, cap=retry_cap
            )
            failure = GITHUB if isinstance(exc, gidgethub.HTTPException) else CRASH
            log.exception(
                "job attempt raised: delivery %s (%s)",
                delivery.id,
                delivery.event,
                extra={"job_failure": failure, "exception": exc.__class__.__name__},
            )
            if failure == CRASH and metrics is not None:
                metrics.job_crashes.labels(delivery.event, exc.__class__.__name__).inc()
        if outcome.kind == "retry":
            log.info("job will retry: delivery %s in %.2fs", delivery.id, outcome.delay)
        elif outcome.kind not in ("done", "ignored"):  # finished jobs are logged once stored: log_recorded()
            log.error(
                "job %s: delivery %s (%s) after %d attempts: %s",
                outcome.kind,
                delivery.id,
                delivery.event,
                attempt_number,
                outcome.error,
            )
        if metrics is not None:
            metrics.job_seconds.labels(delivery.event).observe(time.monotonic() - started)
            metrics.jobs.labels(outcome.kind).inc()
            if outcome.kind == "retry":
                metrics.retry("job")
            if outcome.kind == "dead":
                metrics.dead_letters.labels(delivery.event).inc()
        return outcome
    finally:
        delivery_context.reset(token)


def log_recorded(delivery: Delivery, outcome: Outcome) -> None:
    """Say a job finished once its outcome is stored, not before.

    A crash between the handler's end and the store's commit runs the job again (at least once, with
    effects made idempotent by the handlers); only the run whose outcome was recorded says it finished.
    """
    if outcome.kind in ("done", "ignored"):
        log.info(
            "job finished: delivery %s (%s) %s",
            delivery.id,
            delivery.event,
            outcome.kind,
            extra={
                "delivery_id": delivery.id,
                "event": delivery.event,
                "repository": delivery.repo_key,
                "installation_id": delivery.installation_id,
            },
        )


async def tell_people(reporter: FailureReporter, delivery: Delivery, error: str, dead: bool) -> None:
    """Run the failure reporter; telling people is best effort, and the log keeps the record either way."""
    try:
        await reporter(delivery, error, dead)
    except Exception:
        log.exception("reporting the failure of delivery %s failed", delivery.id)
