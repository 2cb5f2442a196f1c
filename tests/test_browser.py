"""The suite's headless Chromium renders a page served on loopback and runs its script."""

from __future__ import annotations

from aiohttp import web

from browser import Browser, screenshot

PAGE = """<!doctype html><title>probe</title><h1 id=h>static</h1>
<script>document.getElementById('h').textContent = 'rendered by ' + navigator.userAgent.includes('Chrome');</script>"""


async def test_chromium_opens_a_loopback_page_and_runs_its_script(browser: Browser, aiohttp_server) -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    server = await aiohttp_server(app)
    url = str(server.make_url("/"))

    def look(page) -> tuple[str, str]:
        page.goto(url)
        screenshot(page, "browser-probe")
        return page.title(), page.inner_text("#h")

    assert await browser.visit(look) == ("probe", "rendered by true")
