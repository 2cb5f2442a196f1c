"""The door to GitHub against the sandbox: retries that are safe, failures that surface, and paced writes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import gidgethub
import pytest

from bot.github.auth import REQUESTER
from bot.github.client import GitHubClient, TransientError, retry_delay
from bot.github.pacing import WritePacer, is_paced_write, wait_needed
from bot.sandbox import seed
from bot.sandbox.harness import World
from sandbox_calls import client_for, faults


class VirtualClock:
    """Time that passes only when the pacer sleeps, so pacing over minutes is checked in no time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class CountingPacer(WritePacer):
    """The real pacer, also noting when each write went out and how many were in flight at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.holders = 0
        self.most_holders = 0
        self.sent_at: list[float] = []

    async def acquire(self, installation_id: int | None, url: str) -> None:
        await super().acquire(installation_id, url)
        self.holders += 1
        self.most_holders = max(self.most_holders, self.holders)
        self.sent_at.append(self._clock())

    async def release(self, installation_id: int | None) -> None:
        self.holders -= 1
        await super().release(installation_id)


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (502, {}, 0.0),
        (503, {}, 0.0),
        (403, {"retry-after": "7"}, 7.0),
        (429, {"Retry-After": "3"}, 3.0),
        (429, {}, 60.0),
        (404, {}, None),
        (422, {}, None),
        (403, {}, None),
    ],
)
def test_which_answers_are_worth_retrying(status: int, headers: dict[str, str], expected: float | None) -> None:
    from http import HTTPStatus

    exc = gidgethub.HTTPException(HTTPStatus(status))
    exc.headers = headers
    assert retry_delay(exc) == expected


def test_an_exhausted_primary_limit_waits_for_its_reset() -> None:
    from http import HTTPStatus

    exc = gidgethub.HTTPException(HTTPStatus(403))
    exc.headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 30)}
    delay = retry_delay(exc)
    assert delay is not None and 25 <= delay <= 32


@pytest.mark.parametrize(
    ("method", "url", "paced"),
    [
        ("POST", "https://api.github.com/repos/o/r/issues/1/comments", True),
        ("PUT", "https://api.github.com/repos/o/r/pulls/3/merge", True),
        ("PUT", "https://api.github.com/repos/o/r/collaborators/x", False),
        ("PATCH", "https://api.github.com/repos/o/r/issues/1", False),
        ("GET", "https://api.github.com/repos/o/r", False),
    ],
)
def test_which_requests_create_content(method: str, url: str, paced: bool) -> None:
    assert is_paced_write(method, url) is paced


def test_the_pacing_windows() -> None:
    assert wait_needed([], 100.0, 2, 10) == 0
    assert wait_needed([90.0, 95.0], 100.0, 2, 10) == pytest.approx(
        50.0
    )  # the older of the two leaves the minute at 150
    assert wait_needed([30.0, 95.0], 100.0, 2, 10) == 0
    hour = [float(t) for t in range(0, 1000, 100)]  # ten in the last hour, none in the last minute
    assert wait_needed(hour, 1500.0, 80, 10) == pytest.approx(2100.0)


async def test_writes_are_paced_per_installation_one_at_a_time(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    issue = (await sandbox.call("alice", "POST", "/repos/acme/app/issues", {"title": "paced"})).body
    clock = VirtualClock()
    pacer = CountingPacer(5, 12, clock=clock, sleeper=clock.sleep)
    gh, _inst = await client_for(sandbox, "acme", pacer=pacer)
    url_vars = {"owner": "acme", "repo": "app", "number": issue["number"]}
    await asyncio.gather(
        *(
            gh.post("/repos/{owner}/{repo}/issues/{number}/comments", url_vars, data={"body": f"c{n}"})
            for n in range(14)
        )
    )
    await gh.getitem("/repos/{owner}/{repo}", {"owner": "acme", "repo": "app"})  # reads are not paced
    comments = (
        await sandbox.call("alice", "GET", f"/repos/acme/app/issues/{issue['number']}/comments?per_page=100")
    ).body
    assert len(comments) == 14
    assert pacer.most_holders == 1
    sent = sorted(pacer.sent_at)
    assert len(sent) == 14
    for t in sent:
        assert sum(1 for s in sent if t <= s < t + 60) <= 5
        assert sum(1 for s in sent if t <= s < t + 3600) <= 12
    # Twelve an hour: the thirteenth write waited for the first to leave the hour.
    assert sent[12] - sent[0] >= 3600
    print(f"pacing: 14 writes over {sent[-1] - sent[0]:.0f} virtual seconds, at most 1 in flight")


async def test_a_failed_write_releases_its_pacing_slot(sandbox: World) -> None:
    pacer = WritePacer(80, 500)
    async with aiohttp.ClientSession() as session:
        closed = GitHubClient(
            session, REQUESTER, oauth_token="x", base_url="http://127.0.0.1:9", installation_id=7, pacer=pacer
        )
        with pytest.raises(TransientError):
            await closed.post("/repos/{owner}/{repo}/issues", {"owner": "o", "repo": "r"}, data={"title": "t"})
    assert not pacer.in_flight(7)
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    gh, _inst = await client_for(sandbox, "acme", pacer=pacer)
    gh.installation_id = 7  # the same installation's slot as the failed write
    made = await gh.post(
        "/repos/{owner}/{repo}/issues", {"owner": "acme", "repo": "app"}, data={"title": "after a failure"}
    )
    assert made["title"] == "after a failure"
    assert not pacer.in_flight(7)


async def test_reads_are_retried_through_502s_and_secondary_limits(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    gh, _ = await client_for(sandbox, "acme", max_retries=10)
    await faults(sandbox, api=0.5, after=0.0, seed=11, retry_after=0)
    since = sandbox.last_seq()
    for _ in range(10):
        repo = await gh.getitem("/repos/{owner}/{repo}", {"owner": "acme", "repo": "app"})
        assert repo["full_name"] == "acme/app"
    failed = [e for e in sandbox.app_requests(since) if e["fault"]]
    assert failed, "the seed should inject some faults"
    assert gh.retries == len(failed)
    assert all(delay <= 30 for delay in gh.slept)  # type: ignore[attr-defined]


async def test_a_read_that_keeps_failing_becomes_a_transient_error(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    gh, _ = await client_for(sandbox, "acme", max_retries=3)
    await faults(sandbox, api=1.0, after=0.0, seed=1, retry_after=0)
    since = sandbox.last_seq()
    with pytest.raises(TransientError):
        await gh.getitem("/repos/{owner}/{repo}", {"owner": "acme", "repo": "app"})
    assert len(sandbox.app_requests(since)) == 4  # the first try and three retries


async def test_a_failed_create_is_not_repeated_at_the_http_level(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    gh, _ = await client_for(sandbox, "acme")
    # The change is applied, then the answer is a failure: repeating the POST would make a second issue.
    await faults(sandbox, api=1.0, after=1.0, seed=2, retry_after=0)
    since = sandbox.last_seq()
    with pytest.raises(TransientError):
        await gh.post("/repos/{owner}/{repo}/issues", {"owner": "acme", "repo": "app"}, data={"title": "once"})
    await faults(sandbox)
    assert len(sandbox.app_requests(since)) == 1
    issues = (await sandbox.call("alice", "GET", "/repos/acme/app/issues?state=all")).body
    assert [i["title"] for i in issues].count("once") == 1


async def test_a_permanent_error_is_raised_as_is(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    gh, _ = await client_for(sandbox, "acme")
    since = sandbox.last_seq()
    with pytest.raises(gidgethub.BadRequest) as caught:
        await gh.getitem("/repos/{owner}/{repo}/issues/{number}", {"owner": "acme", "repo": "app", "number": 999})
    assert int(caught.value.status_code) == 404
    assert len(sandbox.app_requests(since)) == 1


async def test_a_spent_primary_limit_waits_for_its_reset_or_hands_the_wait_to_the_queue(sandbox: World) -> None:
    from gidgethub.sansio import RateLimit

    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    gh, _ = await client_for(sandbox, "acme", max_wait=120.0)
    gh.rate_limit = RateLimit(limit=5000, remaining=0, reset_epoch=time.time() + 30)
    since = sandbox.last_seq()
    repo = await gh.getitem("/repos/{owner}/{repo}", {"owner": "acme", "repo": "app"})
    assert repo["full_name"] == "acme/app"
    assert len(gh.slept) == 1 and 25 <= gh.slept[0] <= 32  # type: ignore[attr-defined]
    gh.rate_limit = RateLimit(limit=5000, remaining=0, reset_epoch=time.time() + 1800)
    with pytest.raises(TransientError) as caught:
        await gh.getitem("/repos/{owner}/{repo}", {"owner": "acme", "repo": "app"})
    assert caught.value.retry_after is not None and caught.value.retry_after > 1700
    assert len(sandbox.app_requests(since)) == 1  # the second request never left
