"""One headless Chromium per test session, driven by Playwright for Python.

Debian's `chromium` is launched through `executable_path` (Playwright's own browser download is not
reachable from these machines). The suite's tests are asyncio tests on a loop per test, and
Playwright's objects belong to the loop or thread that made them, so the browser lives in one
thread of its own and a test hands it a function to run: `await browser.visit(fn)`, where `fn`
receives a fresh page (its own context, so no cookies leak between tests) and uses the sync API.

Screenshots go to `var/screenshots/` (an artefact directory CI may keep).
"""

from __future__ import annotations

import asyncio
import os
import queue
import shutil
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"
# Without the background-networking flags Chromium's calls home are refused by the closed network, many at a time.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Browser:
    """A Chromium in a thread of its own; `visit` runs a function on a fresh page there."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Callable[[Any], Any], Future[Any]] | None] = queue.Queue()
        self._ready: Future[None] = Future()
        self._thread = threading.Thread(target=self._run, name="chromium", daemon=True)
        self._thread.start()
        self._ready.result(timeout=60)

    def _run(self) -> None:
        from playwright.sync_api import sync_playwright

        try:
            playwright = sync_playwright().start()
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except BaseException as exc:  # the test that asked for the browser reports it
            self._ready.set_exception(exc)
            return
        self._ready.set_result(None)
        try:
            while (job := self._jobs.get()) is not None:
                fn, future = job
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                try:
                    future.set_result(fn(page))
                except BaseException as exc:
                    future.set_exception(exc)
                finally:
                    context.close()
        finally:
            browser.close()
            playwright.stop()

    async def visit(self, fn: Callable[[Any], T]) -> T:
        """Run fn(page) in the browser's thread; the test's loop keeps serving the sandbox meanwhile."""
        future: Future[T] = Future()
        self._jobs.put((fn, future))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=30)


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot (the whole page, or what the viewport shows) as an artefact and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is not installed at {CHROMIUM}: .ci/run installs Debian's chromium")
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    b = Browser()
    try:
        yield b
    finally:
        b.close()
