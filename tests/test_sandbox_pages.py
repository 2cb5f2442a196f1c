"""The sandbox's web view in headless Chromium: every html_url the bot wrote opens a page showing what it names.

The demo's whole release is played against the sandbox; then every link the bot wrote (in its comments,
its check runs' summaries and text, its PR and issue bodies, and those objects' own html_url) is opened
in the session's Chromium, and the page must answer 200 and show the thing the link names, read from
the sandbox's store. A developer's hostile Markdown is shown as GitHub shows it: sanitised, with no
script run. The pages are read-only.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.demo import FULL, Demo, play_story
from bot.sandbox import seed
from bot.sandbox.common import STORE
from bot.sandbox.harness import World
from browser import Browser, screenshot

BOT = "release-train[bot]"


def _links(text: str | None, api_url: str) -> set[str]:
    return set(re.findall(re.escape(api_url) + r"/_html/[^\s\"'<>`)\]]+", text or ""))


def bot_written_links(world: World) -> dict[str, str]:
    """Every sandbox html_url the bot wrote, and where it wrote it."""
    st = world.app[STORE]
    repo = st.repo("acme", "shop")
    base = world.api_url
    found: dict[str, str] = {}

    def add(urls: set[str], where: str) -> None:
        for url in urls:
            found.setdefault(url, where)

    for record in repo["comments"].values():
        if record["user"] == BOT:
            number = record["issue_number"]
            kind = "pull" if repo["issues"][str(number)].get("is_pull") else "issues"
            add({f"{base}/_html/{FULL}/{kind}/{number}#issuecomment-{record['id']}"}, f"comment {record['id']}")
            add(_links(record["body"], base), f"comment {record['id']}")
    own_app = st.data["app"]["id"]
    for run in repo["check_runs"].values():
        if repo["check_suites"][str(run["check_suite_id"])]["app"]["id"] == own_app:
            add({f"{base}/_html/{FULL}/runs/{run['id']}"}, f"check run {run['name']}")
            output = run.get("output") or {}
            add(_links(output.get("summary"), base) | _links(output.get("text"), base), f"check run {run['name']}")
    for number, issue in repo["issues"].items():
        if issue["user"] == BOT:
            kind = "pull" if issue.get("is_pull") else "issues"
            add({f"{base}/_html/{FULL}/{kind}/{number}"}, f"#{number}")
            add(_links(issue.get("body"), base), f"body of #{number}")
    for release in repo["releases"].values():
        add({f"{base}/_html/{FULL}/releases/tag/{release['tag_name']}"}, f"release {release['tag_name']}")
        add(_links(release.get("body"), base), f"release {release['tag_name']}")
    return found


def expected_on_page(world: World, url: str) -> tuple[str, str]:
    """(CSS selector, text it must hold) for the thing a link names, read from the store, not from the page."""
    st = world.app[STORE]
    repo = st.repo("acme", "shop")
    parts = urlsplit(url)
    path = parts.path.removeprefix(f"/_html/{FULL}")
    query = parse_qs(parts.query).get("q", [""])[0]
    if match := re.fullmatch(r"/(?:pull|issues)/(\d+)", path):
        issue = repo["issues"][match.group(1)]
        if parts.fragment:
            comment_id = parts.fragment.removeprefix("issuecomment-")
            body = repo["comments"][comment_id]["body"]
            visible = next(line for line in body.splitlines() if line.strip() and not line.startswith(("<!--", "|")))
            visible = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", visible)  # a link shows its text
            visible = re.sub(r"^[#>\s-]+", "", re.sub(r"[`*_]", "", visible))
            return f"#{parts.fragment} .markdown-body", " ".join(visible.split()[:3])
        return "h1 .js-issue-title", issue["title"]
    if match := re.fullmatch(r"/runs/(\d+)", path):
        run = repo["check_runs"][match.group(1)]
        return ".rt-run-title", (run.get("output") or {}).get("title") or run["name"]
    if match := re.fullmatch(r"/commit/([0-9a-f]{40})", path):
        return "main", match.group(1)
    if match := re.fullmatch(r"/commits/(.+)", path):
        return "h1", match.group(1)
    if match := re.fullmatch(r"/releases/tag/(.+)", path):
        return ".rt-release h2", repo["releases"][
            next(k for k, r in repo["releases"].items() if r["tag_name"] == match.group(1))
        ]["name"]
    if path == "/issues" and "label:release-blocker" in query:
        titles = [
            i["title"]
            for i in repo["issues"].values()
            if "release-blocker" in i["labels"]
            and ("is:open" not in query or i["state"] == "open")
            and not i.get("is_pull")
        ]
        return ".Box-header", f"{len(titles)} issue{'' if len(titles) == 1 else 's'}"
    if path == "/pulls" and "base:" in query:
        base = query.split("base:", 1)[1].split()[0]
        # A search names its states: without is:open it finds merged and closed ones too, as GitHub's does.
        numbers = [
            n
            for n, p in repo["pulls"].items()
            if p["base_ref"] == base and ("is:open" not in query or repo["issues"][n]["state"] == "open")
        ]
        return ".Box-header", f"{len(numbers)} pull request{'' if len(numbers) == 1 else 's'}"
    raise AssertionError(f"the test knows no page like {url}: teach expected_on_page what it shows")


@pytest.mark.slow
async def test_every_html_url_the_bot_wrote_opens_a_page_showing_what_it_names(world: World, browser: Browser) -> None:
    demo = Demo(world, quiet=True)
    tracking = await play_story(demo)
    assert demo.failures == []
    links = bot_written_links(world)
    kinds = {
        re.sub(r"/\d+|/[0-9a-f]{40}|#.*|\?.*", "", urlsplit(u).path + ("#" if urlsplit(u).fragment else ""))
        for u in links
    }
    # The story's links cover checks, comments, PRs, issues, commits, searches and the release.
    assert len(links) >= 25, sorted(links)
    assert {
        f"/_html/{FULL}/runs",
        f"/_html/{FULL}/pull",
        f"/_html/{FULL}/issues",
        f"/_html/{FULL}/releases/tag/v1.5.0",
    } <= kinds, kinds
    checks = [(url, *expected_on_page(world, url)) for url in sorted(links)]
    repo = world.app[STORE].repo("acme", "shop")
    gate_run = max((r for r in repo["check_runs"].values() if r["name"] == "release-train/gate"), key=lambda r: r["id"])
    pick = next(n for n, i in repo["issues"].items() if i.get("is_pull") and i["user"] == BOT)

    def visit_all(page: Any) -> list[tuple[str, int | None, str]]:
        seen = []
        for url, selector, text in checks:
            page.goto("about:blank")  # a link differing only in its #fragment would be no navigation
            answer = page.goto(url)
            status = answer.status if answer else None
            shown = page.locator(selector).first.inner_text() if page.locator(selector).count() else ""
            seen.append((url, status, shown if text in shown else f"{text!r} not in {shown[:300]!r}"))
        return seen

    for url, status, shown in await browser.visit(visit_all):
        assert status == 200, (url, links[url], status)
        assert "not in" not in shown, (url, links[url], shown)

    def look(page: Any) -> dict[str, Any]:
        facts: dict[str, Any] = {}
        page.goto(f"{world.api_url}/_html/{FULL}/runs/{gate_run['id']}")
        facts["gate_rows"] = page.locator(".rt-summary table tbody tr").count()
        facts["gate_raw_pipes"] = "| ---" in page.locator(".rt-summary").inner_text()
        facts["box_border"] = page.evaluate("getComputedStyle(document.querySelector('.Box')).borderTopStyle")
        screenshot(page, "check-run-gate", full_page=False)
        page.goto(f"{world.api_url}/_html/{FULL}/pull/{pick}")
        facts["pick_state"] = page.locator(".State").first.inner_text()
        facts["pick_labels"] = page.locator(".rt-labels").inner_text()
        facts["pick_checks"] = page.locator("#checks .rt-check").count()
        screenshot(page, "pick-pr", full_page=False)
        page.goto(f"{world.api_url}/_html/{FULL}/issues/{tracking}")
        facts["dashboard_tables"] = page.locator("#issue-body .markdown-body table").count()
        facts["dashboard_text"] = page.locator("#issue-body").inner_text()
        screenshot(page, "dashboard", full_page=False)
        return facts

    facts = await browser.visit(look)
    gate_summary = gate_run["output"]["summary"]
    assert facts["gate_rows"] == len(re.findall(r"(?m)^\| (?!requirement|---)", gate_summary)) > 3, facts
    assert facts["gate_raw_pipes"] is False
    assert facts["box_border"] == "solid"  # Primer's CSS reached the page
    assert facts["pick_state"] == "Merged" and "cherry-pick" in facts["pick_labels"] and facts["pick_checks"] >= 1
    assert facts["dashboard_tables"] >= 1 and "Release 1.5" in facts["dashboard_text"]


HOSTILE = """\
Please review. <script>window.pwned = 'script'</script>
<img src="x" onerror="window.pwned = 'onerror'">
[click me](javascript:window.pwned='link') and <a href="javascript:window.pwned='anchor'">this</a>
<iframe src="javascript:window.pwned='iframe'"></iframe><style>body { display: none }</style>
<form action="/x"><input type="text" name="secret"><button>go</button></form>

- [x] tests written
- [ ] docs

| step | state |
| --- | --- |
| build | ok |

<details><summary>Logs</summary>

```python
print("hello")
```
</details>
"""


@pytest.mark.slow
async def test_a_developers_hostile_markdown_is_shown_sanitised_and_runs_no_script(
    sandbox: World, browser: Browser
) -> None:
    """The attack: a developer with write access puts scripts, handlers and javascript: links in a PR body,
    a comment, a label and another app's check run, hoping a reviewer's browser runs them. The control: the
    same text's task list, table, details and code render as GitHub renders them."""
    await seed.create_org_repo(sandbox, "acme", "shop", admin="alice", files={"README.md": "# Shop\n"})
    await seed.grant(sandbox, "acme/shop", "mallory", "write")
    await seed.create_branch(sandbox, "mallory", "acme/shop", "feature", "main")
    head = await seed.commit(sandbox, "mallory", "acme/shop", "feature", {"a.txt": "a\n"}, "<b>bold</b> commit")
    pr = await seed.open_pr(
        sandbox, "mallory", "acme/shop", head="feature", base="main", title="<img src=x onerror=alert(1)>", body=HOSTILE
    )
    await seed.comment(sandbox, "mallory", "acme/shop", pr["number"], HOSTILE)
    label = await sandbox.call(
        "mallory",
        "POST",
        "/repos/acme/shop/labels",
        {"name": "<svg onload=window.pwned='label'>", "color": "ff0000"},
    )
    assert label.status == 201
    await seed.add_labels(sandbox, "mallory", "acme/shop", pr["number"], "<svg onload=window.pwned='label'>")
    run = await seed.ci_check_run(sandbox, "acme/shop", head, "lint", "failure", app_slug="evil-ci")
    patched = await sandbox.call(
        None,
        "PATCH",
        f"/_sandbox/ci/acme/shop/check-runs/{run['id']}",
        {
            "app_slug": "evil-ci",
            "output": {"title": "Lint", "summary": HOSTILE, "text": "<script>window.pwned='text'</script>**bold**"},
        },
    )
    assert patched.status == 200, patched.body
    base = sandbox.api_url + "/_html/acme/shop"

    def attack(page: Any) -> dict[str, Any]:
        facts: dict[str, Any] = {"dialogs": []}
        page.on("dialog", lambda d: (facts["dialogs"].append(d.message), d.dismiss()))
        for name, url, scope in (
            ("pull", f"{base}/pull/{pr['number']}", "#issue-body .markdown-body"),
            ("run", f"{base}/runs/{run['id']}", ".rt-summary"),
        ):
            answer = page.goto(url)
            facts[f"{name}_status"] = answer.status if answer else None
            page.evaluate("document.querySelectorAll('.markdown-body a').forEach(a => a.click())")
            facts[f"{name}_pwned"] = page.evaluate("window.pwned === undefined ? null : String(window.pwned)")
            facts[f"{name}_scripts"] = page.locator(
                ".markdown-body script, .markdown-body iframe, .markdown-body style, .markdown-body form"
            ).count()
            facts[f"{name}_handlers"] = page.evaluate(
                "[...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length"
            )
            facts[f"{name}_js_links"] = page.evaluate(
                "[...document.querySelectorAll('a[href]')].filter(a => a.href.trim().toLowerCase().startsWith('javascript:')).length"
            )
            facts[f"{name}_visible"] = page.evaluate("getComputedStyle(document.body).display")
            facts[f"{name}_tasks"] = page.locator(f"{scope} li.task-list-item input[type=checkbox][disabled]").count()
            facts[f"{name}_text_inputs"] = page.locator(".markdown-body input:not([type=checkbox])").count()
            facts[f"{name}_table_cells"] = page.locator(f"{scope} td").all_inner_texts()
            facts[f"{name}_details"] = page.locator(f"{scope} details summary").all_inner_texts()
            facts[f"{name}_code"] = page.locator(f"{scope} pre code").all_text_contents()
        page.goto(f"{base}/pull/{pr['number']}")
        facts["title"] = page.locator("h1 .js-issue-title").inner_text()
        facts["label"] = page.locator(".rt-labels").inner_text()
        screenshot(page, "hostile-markdown")
        page.goto(f"{base}/commit/{head}")
        facts["commit_title"] = page.locator("h1").inner_text()
        facts["pwned_after_all"] = page.evaluate("window.pwned === undefined ? null : String(window.pwned)")
        return facts

    facts = await browser.visit(attack)
    for name in ("pull", "run"):
        assert facts[f"{name}_status"] == 200
        assert facts[f"{name}_pwned"] is None, facts
        assert facts[f"{name}_scripts"] == 0 and facts[f"{name}_handlers"] == 0 and facts[f"{name}_js_links"] == 0
        assert facts[f"{name}_visible"] != "none"  # a person's <style> does not restyle the page
        assert facts[f"{name}_text_inputs"] == 0  # nor does a form reach it
        # The control: GitHub's Markdown renders.
        assert facts[f"{name}_tasks"] == 2
        assert facts[f"{name}_table_cells"] == ["build", "ok"]
        assert facts[f"{name}_details"] == ["Logs"]
        assert facts[f"{name}_code"] == ['print("hello")\n']
    assert facts["dialogs"] == [] and facts["pwned_after_all"] is None
    assert facts["title"] == "<img src=x onerror=alert(1)>"  # shown as text
    assert "<svg onload=window.pwned='label'>" in facts["label"]
    assert facts["commit_title"] == "<b>bold</b> commit"


async def test_the_pages_are_read_only_and_answer_github_s_404(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "shop", admin="alice", files={"README.md": "# Shop\n\n- [ ] one\n"})
    before = dict(sandbox.app[STORE].repo("acme", "shop"))
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        async with sandbox.session.request(
            method, sandbox.api_url + "/_html/acme/shop", data=b"{}", headers={"Authorization": "token alice"}
        ) as answer:
            assert answer.status == 405, method
    assert sandbox.app[STORE].repo("acme", "shop") == before
    async with sandbox.session.get(sandbox.api_url + "/_html/acme/shop") as answer:
        page = await answer.text()
        assert answer.status == 200 and answer.content_type == "text/html"
        assert '<ul class="contains-task-list">' in page and "README.md" in page
    for missing in (
        "/_html/acme/nope",
        "/_html/acme/shop/pull/99",
        "/_html/acme/shop/runs/12345",
        "/_html/acme/shop/blob/main/nope.txt",
        "/_html/acme/shop/tree/no-such-branch",
        "/_html/_static/LICENSE",
        "/_html/_static/..%2f..%2fapp.py",
    ):
        async with sandbox.session.get(sandbox.api_url + missing) as answer:
            assert answer.status == 404, missing
            assert answer.content_type == "text/html" and "Page not found" in await answer.text()
    async with sandbox.session.get(sandbox.api_url + "/_html/acme/shop/raw/main/README.md") as answer:
        # Raw files are text/plain, so no file in a repository becomes a page on the sandbox's origin.
        assert answer.status == 200 and answer.content_type == "text/plain"
        assert await answer.text() == "# Shop\n\n- [ ] one\n"
    async with sandbox.session.get(sandbox.api_url + "/_html/_static/primer.css") as answer:
        assert answer.status == 200 and answer.content_type == "text/css"
        assert "Primer" in (await answer.text())[:200]


@pytest.mark.slow
def test_demo_keep_leaves_the_sandbox_and_the_bot_running_and_prints_the_tracking_issue(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen(
        ["release-train", "demo", "--keep"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Open "):
                break
        printed = "".join(lines)
        assert ", 0 not." in printed, printed[-3000:]
        link = re.search(r"^Open (http://127\.0\.0\.1:\d+/_html/acme/shop/issues/(\d+)) ", printed, flags=re.M)
        assert link, printed[-2000:]
        with urllib.request.urlopen(link.group(1), timeout=30) as answer:
            page = answer.read().decode()
        assert answer.status == 200 and "Release 1.5" in page and "Gate: Ready to promote" in page
        # The bot still answers: a command on the tracking issue gets its reply.
        api = link.group(1).split("/_html/")[0]
        issue = link.group(2)
        request = urllib.request.Request(
            f"{api}/repos/acme/shop/issues/{issue}/comments",
            data=json.dumps({"body": "/help"}).encode(),
            headers={"Authorization": "token rita", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            asked = json.loads(answer.read())["id"]
        replies: list[dict[str, Any]] = []
        for _ in range(300):
            listing = urllib.request.Request(
                f"{api}/repos/acme/shop/issues/{issue}/comments?per_page=100", headers={"Authorization": "token rita"}
            )
            with urllib.request.urlopen(listing, timeout=30) as answer:
                replies = [c for c in json.loads(answer.read()) if c["id"] > asked and c["user"]["login"] == BOT]
            if replies:
                break
            time.sleep(0.1)
        assert replies and "/cut-rc" in replies[0]["body"], replies
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
