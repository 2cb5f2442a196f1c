"""Turning a stored delivery into a handler call: parse, authenticate as the installation, dispatch."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import gidgethub
import msgspec
from gidgethub import routing
from gidgethub.sansio import Event

from bot.catchup import SWEEP_EVENT
from bot.github import events
from bot.github.auth import TokenScope
from bot.handlers.context import Context, Services
from bot.queue import Delivery, FailureLedger, InProcessLedger
from bot.repo_config import asks_for_refresh, makes_config_stale

log = logging.getLogger("release_train.worker")

# Events the bot causes itself and has no rule for; anything else it caused still runs the rules
# (its own check runs feed the gate, its own PRs get merge-rules, its own bug issues block the RC).
OWN_EVENTS_IGNORED = frozenset({"issue_comment", "release", "deployment", "deployment_status", "delete"})


def repo_key(payload: dict[str, Any]) -> str:
    repo = payload.get("repository")
    if isinstance(repo, dict) and repo.get("full_name"):
        return str(repo["full_name"])
    installation = payload.get("installation")
    if isinstance(installation, dict) and installation.get("id"):
        return f"installation:{installation['id']}"
    return "app"


def installation_id(payload: dict[str, Any]) -> int | None:
    installation = payload.get("installation")
    if isinstance(installation, dict) and isinstance(installation.get("id"), int):
        return installation["id"]
    return None


# Untyped floats as Python reads them: a number out of a float's range is inf, not an error, since the door
# (which skips the fields no record names) does not look at them.
_UNTYPED = msgspec.json.Decoder(float_hook=float)


def _read(delivery: Delivery) -> tuple[dict[str, Any], events.Payload]:
    data = _UNTYPED.decode(delivery.body)
    if not isinstance(data, dict):
        raise events.PayloadError("the payload is not a JSON object", "$")
    kind = events.Payload if delivery.event == SWEEP_EVENT else events.record_type(delivery.event, data.get("action"))
    return data, events.decode_as(kind, delivery.body)


async def read_delivery(delivery: Delivery) -> tuple[dict[str, Any], events.Payload]:
    """The stored body as the dict gidgethub routes on and as its typed record; PayloadError when it is neither.

    The door decoded the same bytes with the same parser before storing them, deeper in the stack than a
    fresh thread is: a body nested too deep to read here is read again in one, where it always fits.
    """
    try:
        try:
            return _read(delivery)
        except RecursionError:
            return await asyncio.to_thread(_read, delivery)
    except msgspec.DecodeError as exc:
        raise events.PayloadError(str(exc), "$") from None
    except RecursionError:
        raise events.PayloadError("the JSON is nested too deeply", "$") from None


class KeyLocks:
    """One lock per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def queued(self, key: str) -> int:
        """How many hold or wait for the key's lock."""
        entry = self._locks.get(key)
        return entry[1] if entry is not None else 0

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, count = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, count + 1)
        try:
            async with lock:
                yield
        finally:
            lock, count = self._locks[key]
            if count == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, count - 1)


class Processor:
    """Runs one stored delivery through the router as its installation; the queue calls it per attempt.

    Jobs of one repository never overlap in a process, whatever the queue hands out at once (a Redis
    lease that lapsed while its job still ran hands the repository out again): GitHub has no unique
    constraint on check runs or comments, so two jobs that both find nothing would both create it.
    """

    def __init__(self, services: Services, router: routing.Router, ledger: FailureLedger | None = None) -> None:
        self.services = services
        self.router = router
        self.serial = KeyLocks()
        # The queue's store keeps the failures no PR or issue could be told about (bot/handlers/failures.py).
        self.ledger: FailureLedger = ledger if ledger is not None else InProcessLedger()

    async def _context(
        self,
        event: Event,
        payload: events.Payload,
        repository: tuple[str, int | None] | None,
        installation: int | None,
        permissions: dict[str, str] | None = None,
    ) -> Context | None:
        """The job's context in that repository (full name and id), with a token for it alone and the permissions
        the job needs; None when there is no repository or installation, or the installation is gone."""
        from bot.handlers import permissions_for

        if repository is None or installation is None or "/" not in repository[0]:
            return None
        full_name, repository_id = repository
        owner, name = full_name.split("/", 1)
        grant = permissions if permissions is not None else permissions_for(event)
        ids = (repository_id,) if repository_id is not None else ()
        github = self.services.github
        try:
            gh = await github.installation_client(installation, TokenScope.of(grant, *ids))
        except gidgethub.BadRequest as exc:
            if int(exc.status_code) in (401, 403, 404):
                # The app was uninstalled or suspended: there is nobody to act for.
                log.warning(
                    "delivery %s: installation %s is not usable (%s); ignored",
                    event.delivery_id,
                    installation,
                    int(exc.status_code),
                )
                return None
            raise
        return Context(
            gh=gh,
            event=event,
            owner=owner,
            repo=name,
            installation_id=installation,
            bot_login=await github.bot_login(),
            services=self.services,
            payload=payload,
        )

    async def _context_of(self, event: Event, payload: events.Payload) -> Context | None:
        repository, installation = payload.repository, payload.installation
        return await self._context(
            event,
            payload,
            (repository.full_name, repository.id) if repository is not events.UNSET else None,
            installation.id if installation is not events.UNSET else None,
        )

    async def __call__(self, delivery: Delivery) -> str:
        async with self.serial.hold(delivery.repo_key):
            return await self._process(delivery)

    async def _process(self, delivery: Delivery) -> str:
        data, payload = await read_delivery(delivery)
        event = Event(data, event=delivery.event, delivery_id=delivery.id)
        if delivery.event == SWEEP_EVENT:
            return await self._sweep(delivery, payload, event)
        if not self.router.fetch(event):
            return "ignored"
        sender = payload.sender.login if payload.sender is not events.UNSET else None
        if sender == await self.services.github.bot_login() and delivery.event in OWN_EVENTS_IGNORED:
            return "ignored"
        ctx = await self._context_of(event, payload)
        if ctx is None:
            log.debug("delivery %s (%s) has no usable installation or repository; ignored", delivery.id, delivery.event)
            return "ignored"
        await self._forget_stale(ctx, delivery.event, data)
        await self.router.dispatch(event, ctx)
        await self._recovered(delivery)
        return "done"

    async def _failures_context(self, delivery: Delivery, where: events.Envelope) -> Context | None:
        from bot.handlers import failures

        return await self._context(
            Event({}, event=delivery.event, delivery_id=delivery.id),
            events.Payload(),
            (where.repository.full_name, where.repository.id) if where.repository else None,
            where.installation.id if where.installation else None,
            failures.PERMISSIONS,
        )

    async def _recovered(self, delivery: Delivery, keys: tuple[str, ...] | None = None) -> None:
        """A job succeeded: the failures of its subject (or of these keys) are over. Asks the ledger only."""
        from bot.handlers import failures

        if not await self.ledger.open_failures(delivery.repo_key):
            return
        if keys is None:
            keys = (failures.subject_of(delivery.event, failures.about_of(delivery.body)).key,)
        try:
            current = await failures.open_failures(self.ledger, delivery.repo_key)
            if not any(key in current for key in keys):
                return
            ctx = await self._failures_context(delivery, _envelope(delivery))
            if ctx is not None:
                await failures.recovered(ctx, self.ledger, delivery.repo_key, keys)
        except Exception:
            # The job itself succeeded; the entries stay, and the next success or sweep shows them again.
            log.exception("could not show that the failures of delivery %s's subject are over", delivery.id)

    async def _forget_stale(self, ctx: Context, event: str, data: dict[str, Any]) -> None:
        """Drop what this delivery makes stale before any handler runs, so no handler depends on another's order."""
        if makes_config_stale(event, data):
            ctx.forget_config()
        if asks_for_refresh(event, data):
            sender = ctx.payload.sender
            # Membership answers are many; only someone who may run /refresh empties their cache.
            if sender is not events.UNSET and await ctx.has_role(sender.login, "write"):
                ctx.services.roles.forget(ctx.installation_id)

    async def _sweep(self, delivery: Delivery, payload: events.Payload, event: Event) -> str:
        from bot.handlers import failures, run_sweeps
        from bot.rules.failures import over_after_sweep

        ctx = await self._context_of(event, payload)
        if ctx is None:
            return "ignored"
        failed = await run_sweeps(ctx)
        repo_key = delivery.repo_key
        for concern, error in failed.items():
            subject = failures.subject_of(SWEEP_EVENT, events.About(), concern=concern)
            await failures.note(
                self.ledger, repo_key, failures.failure(subject, SWEEP_EVENT, delivery.id, error, dead=False)
            )
        try:
            current = await failures.open_failures(self.ledger, repo_key)
            if current:
                # Every sweep shows the ledger again, so an edit of the bot's list does not outlive the next sweep.
                over = over_after_sweep(current, failed)
                fail_ctx = await self._failures_context(delivery, _envelope(delivery))
                if fail_ctx is not None:
                    await failures.show_ledger(fail_ctx, self.ledger, repo_key, without=over)
                    for key in over:
                        await self.ledger.clear_failure(repo_key, key)
        except Exception:
            log.exception("could not show the failures of %s after its sweep", repo_key)
        return "done"

    async def report_failure(self, delivery: Delivery, error: str, dead: bool) -> None:
        """Tell people that the bot gave up on this event: on its PR or issue (once per delivery), or else in the
        failure ledger, shown on the open tracking issue or the app's status issue."""
        from bot.rules.text import inline

        where = _envelope(delivery)
        number = where.thread
        if number is None:
            async with self.serial.hold(delivery.repo_key):  # the ledger and its showing, one job at a time
                await self._report_elsewhere(delivery, where, error, dead)
            return
        why = "kept failing" if dead else "failed in a way that retrying cannot fix"
        body = (
            f"Release Train could not finish handling the `{delivery.event}` event (delivery `{delivery.id}`): it {why}.\n\n"
            f"> {inline(error, 300)}\n\n"
            "Nothing more will happen for that event on its own. Comment `/refresh` to have the bot look at this again, "
            "or ask the app's operators to check this delivery."
        )
        try:
            from bot.handlers import FAILURE_REPORT_PERMISSIONS

            ctx = await self._context(
                Event({}, event=delivery.event, delivery_id=delivery.id),
                events.Payload(),
                (where.repository.full_name, where.repository.id) if where.repository else None,
                where.installation.id if where.installation else None,
                FAILURE_REPORT_PERMISSIONS,
            )
            if ctx is None:
                log.error(
                    "delivery %s (%s) was given up and no one could be told: %s", delivery.id, delivery.event, error
                )
                return
            await ctx.api.post_once(number, f"job-failed:{delivery.id}", body)
        except Exception:
            log.exception("could not tell anyone that delivery %s was given up", delivery.id)

    async def _report_elsewhere(self, delivery: Delivery, where: events.Envelope, error: str, dead: bool) -> None:
        from bot.handlers import failures

        if where.repository is None or "/" not in where.repository.full_name:
            log.error("delivery %s (%s) was given up and no one could be told: %s", delivery.id, delivery.event, error)
            return
        subject = failures.subject_of(delivery.event, failures.about_of(delivery.body))
        entry = failures.failure(subject, delivery.event, delivery.id, error, dead=dead)
        try:
            await failures.note(self.ledger, delivery.repo_key, entry)
        except Exception:
            log.exception(
                "delivery %s (%s) was given up and could not be kept in the failure ledger: %s",
                delivery.id,
                delivery.event,
                error,
            )
        try:
            ctx = await self._failures_context(delivery, where)
            if ctx is None:
                log.error(
                    "delivery %s (%s) was given up and no one could be told: %s", delivery.id, delivery.event, error
                )
                return
            await failures.show_ledger(ctx, self.ledger, delivery.repo_key)
        except Exception:
            # Kept in the ledger: the next failure, success or sweep in this repository shows it.
            log.exception("could not show that delivery %s (%s) was given up", delivery.id, delivery.event)


def _envelope(delivery: Delivery) -> events.Envelope:
    try:
        return events.decode_as(events.Envelope, delivery.body)
    except (events.PayloadError, RecursionError):
        return events.Envelope()
