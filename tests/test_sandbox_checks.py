"""The sandbox's commit statuses, check runs and check suites: the gate's raw material, over real HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.sandbox import seed
from bot.sandbox.harness import World
from bot.sandbox.runner import start_sandbox
from sandbox_calls import HookLog, as_app, installation_token, make_repo, settle_hooks


async def head_of(world: World, branch: str = "main") -> str:
    answer = await world.call("alice", "GET", f"/repos/acme/app/branches/{branch}")
    assert answer.status == 200, answer.body
    return str(answer.body["commit"]["sha"])


async def test_commit_statuses_combine_to_the_latest_per_context(sandbox: World, hook_log: HookLog) -> None:
    await make_repo(sandbox)
    sha = await head_of(sandbox)
    empty = await sandbox.call("bob", "GET", f"/repos/acme/app/commits/{sha}/status")
    assert empty.status == 200 and empty.body["state"] == "pending" and empty.body["total_count"] == 0

    first = await sandbox.call(
        "alice",
        "POST",
        f"/repos/acme/app/statuses/{sha}",
        {"state": "pending", "context": "ci/sanity", "description": "running", "target_url": "https://ci.example/1"},
    )
    assert first.status == 201
    assert first.body["state"] == "pending" and first.body["creator"]["login"] == "alice"
    await sandbox.call("alice", "POST", f"/repos/acme/app/statuses/{sha}", {"state": "success", "context": "ci/sanity"})
    await sandbox.call("alice", "POST", f"/repos/acme/app/statuses/{sha}", {"state": "success", "context": "ci/lint"})
    combined = await sandbox.call("bob", "GET", "/repos/acme/app/commits/main/status")
    assert combined.body["state"] == "success" and combined.body["sha"] == sha
    assert sorted((s["context"], s["state"]) for s in combined.body["statuses"]) == [
        ("ci/lint", "success"),
        ("ci/sanity", "success"),
    ]

    await sandbox.call("alice", "POST", f"/repos/acme/app/statuses/{sha}", {"state": "error", "context": "ci/lint"})
    assert (await sandbox.call("bob", "GET", f"/repos/acme/app/commits/{sha}/status")).body["state"] == "failure"
    every = await sandbox.call("bob", "GET", f"/repos/acme/app/commits/{sha}/statuses")
    assert [(s["context"], s["state"]) for s in every.body] == [
        ("ci/lint", "error"),
        ("ci/lint", "success"),
        ("ci/sanity", "success"),
        ("ci/sanity", "pending"),
    ]

    bad_state = await sandbox.call("alice", "POST", f"/repos/acme/app/statuses/{sha}", {"state": "green"})
    assert bad_state.status == 422
    no_commit = await sandbox.call("alice", "POST", f"/repos/acme/app/statuses/{'0' * 40}", {"state": "success"})
    assert no_commit.status == 422 and "No commit found" in no_commit.body["message"]
    assert (await sandbox.call("bob", "POST", f"/repos/acme/app/statuses/{sha}", {"state": "success"})).status == 403
    assert (await sandbox.call("bob", "GET", "/repos/acme/app/commits/no-such-branch/status")).status == 404

    await settle_hooks(sandbox)
    status_hooks = hook_log.of("status")
    assert [(p["context"], p["state"]) for p in status_hooks] == [
        ("ci/sanity", "pending"),
        ("ci/sanity", "success"),
        ("ci/lint", "success"),
        ("ci/lint", "error"),
    ]
    assert status_hooks[0]["sha"] == sha and status_hooks[0]["commit"]["sha"] == sha
    assert [b["name"] for b in status_hooks[0]["branches"]] == ["main"]
    assert status_hooks[0]["target_url"] == "https://ci.example/1"


async def test_the_app_runs_a_check_and_the_suite_completes(sandbox: World, hook_log: HookLog) -> None:
    await make_repo(sandbox)
    sha = await head_of(sandbox)
    token = await installation_token(sandbox, "acme")
    # Only an app may create check runs.
    by_user = await sandbox.call("alice", "POST", "/repos/acme/app/check-runs", {"name": "x", "head_sha": sha})
    assert by_user.status == 403

    created = await as_app(
        sandbox,
        token,
        "POST",
        "/repos/acme/app/check-runs",
        {
            "name": "release-train/gate",
            "head_sha": sha,
            "status": "in_progress",
            "output": {"title": "Waiting", "summary": "sanity is pending"},
        },
    )
    assert created.status == 201, created.body
    run = created.body
    assert run["status"] == "in_progress" and run["conclusion"] is None
    assert run["app"]["slug"] == "release-train" and run["app"]["id"] == sandbox.sandbox.config.app_id
    assert run["output"]["title"] == "Waiting" and run["check_suite"]["id"]

    missing_conclusion = await as_app(
        sandbox, token, "PATCH", f"/repos/acme/app/check-runs/{run['id']}", {"status": "completed"}
    )
    assert missing_conclusion.status == 422
    done = await as_app(
        sandbox,
        token,
        "PATCH",
        f"/repos/acme/app/check-runs/{run['id']}",
        {
            "conclusion": "failure",
            "output": {
                "title": "Blocked",
                "summary": "1 blocker",
                "text": "details",
                "annotations": [
                    {
                        "path": "README.md",
                        "start_line": 1,
                        "end_line": 1,
                        "annotation_level": "failure",
                        "message": "here",
                    }
                ],
            },
        },
    )
    assert done.status == 200
    assert done.body["status"] == "completed" and done.body["conclusion"] == "failure" and done.body["completed_at"]
    assert done.body["output"]["annotations_count"] == 1
    annotations = await sandbox.call("bob", "GET", f"/repos/acme/app/check-runs/{run['id']}/annotations")
    assert annotations.status == 200 and annotations.body[0]["message"] == "here" and annotations.body[0]["blob_href"]

    got = await sandbox.call("bob", "GET", f"/repos/acme/app/check-runs/{run['id']}")
    assert got.body["conclusion"] == "failure" and got.body["output"]["text"] == "details"
    assert (await sandbox.call("bob", "GET", "/repos/acme/app/check-runs/99999999")).status == 404

    suites = await sandbox.call("bob", "GET", f"/repos/acme/app/commits/{sha}/check-suites")
    assert suites.body["total_count"] == 1
    suite = suites.body["check_suites"][0]
    assert suite["status"] == "completed" and suite["conclusion"] == "failure" and suite["head_branch"] == "main"
    assert suite["latest_check_runs_count"] == 1
    one_suite = await sandbox.call("bob", "GET", f"/repos/acme/app/check-suites/{suite['id']}")
    assert one_suite.status == 200 and one_suite.body["id"] == suite["id"]

    # A second run in the same suite reopens it; completing it completes the suite again.
    second = await as_app(
        sandbox,
        token,
        "POST",
        "/repos/acme/app/check-runs",
        {
            "name": "release-train/gate",
            "head_sha": sha,
            "conclusion": "success",
            "output": {"title": "Ready", "summary": "all green"},
        },
    )
    assert second.status == 201 and second.body["check_suite"]["id"] == suite["id"]
    latest = await sandbox.call("bob", "GET", f"/repos/acme/app/commits/{sha}/check-runs?check_name=release-train/gate")
    assert latest.body["total_count"] == 1 and latest.body["check_runs"][0]["id"] == second.body["id"]
    every = await sandbox.call("bob", "GET", f"/repos/acme/app/commits/{sha}/check-runs?filter=all")
    assert [r["id"] for r in every.body["check_runs"]] == [second.body["id"], run["id"]]
    suite_after = (await sandbox.call("bob", "GET", f"/repos/acme/app/check-suites/{suite['id']}")).body
    assert suite_after["conclusion"] == "failure"  # the most severe of its runs

    bad = await as_app(sandbox, token, "POST", "/repos/acme/app/check-runs", {"name": "x", "head_sha": "f" * 40})
    assert bad.status == 422
    assert (await as_app(sandbox, token, "POST", "/repos/acme/app/check-runs", {"head_sha": sha})).status == 422
    assert (
        await as_app(
            sandbox, token, "POST", "/repos/acme/app/check-runs", {"name": "x", "head_sha": sha, "conclusion": "great"}
        )
    ).status == 422

    await settle_hooks(sandbox)
    assert [(p["action"], p["check_run"]["id"]) for p in hook_log.of("check_run")] == [
        ("created", run["id"]),
        ("completed", run["id"]),
        ("created", second.body["id"]),
        ("completed", second.body["id"]),
    ]
    completed_suites = hook_log.of("check_suite", "completed")
    assert len(completed_suites) == 2
    assert completed_suites[0]["check_suite"]["app"]["slug"] == "release-train"
    assert hook_log.of("check_run")[0]["sender"]["login"] == "release-train[bot]"


async def test_other_ci_apps_post_their_own_runs(sandbox: World, hook_log: HookLog) -> None:
    await make_repo(sandbox)
    await seed.create_branch(sandbox, "alice", "acme/app", "rc/1.5", "main")
    sha = await seed.commit(sandbox, "alice", "acme/app", "rc/1.5", {"fix.txt": "fixed\n"}, "Fix")
    token = await installation_token(sandbox, "acme")

    sanity = await sandbox.call(
        None,
        "POST",
        "/_sandbox/ci/acme/app/check-runs",
        {"app_slug": "jenkins", "name": "sanity", "head_sha": sha, "status": "in_progress"},
    )
    assert sanity.status == 201, sanity.body
    assert sanity.body["app"]["slug"] == "jenkins" and sanity.body["app"]["id"] != sandbox.sandbox.config.app_id
    regression = await sandbox.call(
        None,
        "POST",
        "/_sandbox/ci/acme/app/check-runs",
        {"app_slug": "jenkins", "name": "regression", "head_sha": sha, "conclusion": "success"},
    )
    nightly = await sandbox.call(
        None,
        "POST",
        "/_sandbox/ci/acme/app/check-runs",
        {"app_slug": "nightly-bot", "name": "nightly", "head_sha": sha, "conclusion": "success"},
    )
    assert regression.status == nightly.status == 201

    # Our app may not touch another app's run.
    stolen = await as_app(
        sandbox, token, "PATCH", f"/repos/acme/app/check-runs/{sanity.body['id']}", {"conclusion": "success"}
    )
    assert stolen.status == 403
    finished = await sandbox.call(
        None, "PATCH", f"/_sandbox/ci/acme/app/check-runs/{sanity.body['id']}", {"conclusion": "success"}
    )
    assert finished.status == 200 and finished.body["conclusion"] == "success"

    jenkins_id = sanity.body["app"]["id"]
    only_jenkins = await as_app(
        sandbox, token, "GET", f"/repos/acme/app/commits/rc%2F1.5/check-runs?app_id={jenkins_id}"
    )
    assert only_jenkins.status == 200
    assert sorted(r["name"] for r in only_jenkins.body["check_runs"]) == ["regression", "sanity"]
    completed = await as_app(
        sandbox, token, "GET", f"/repos/acme/app/commits/{sha}/check-runs?status=completed&per_page=2"
    )
    assert completed.body["total_count"] == 3 and len(completed.body["check_runs"]) == 2
    assert 'rel="next"' in completed.headers["Link"]
    suites = await as_app(sandbox, token, "GET", f"/repos/acme/app/commits/{sha}/check-suites")
    assert sorted(s["app"]["slug"] for s in suites.body["check_suites"]) == ["jenkins", "nightly-bot"]
    assert all(s["status"] == "completed" and s["head_branch"] == "rc/1.5" for s in suites.body["check_suites"])

    await settle_hooks(sandbox)
    by_sender = {(p["check_run"]["name"], p["action"], p["sender"]["login"]) for p in hook_log.of("check_run")}
    assert ("sanity", "completed", "jenkins[bot]") in by_sender
    assert ("nightly", "created", "nightly-bot[bot]") in by_sender
    # jenkins' suite completed only once both of its runs had.
    jenkins_suites = [
        p for p in hook_log.of("check_suite", "completed") if p["check_suite"]["app"]["slug"] == "jenkins"
    ]
    assert len(jenkins_suites) == 1 and jenkins_suites[0]["check_suite"]["conclusion"] == "success"


async def test_an_app_without_checks_permission_is_refused(tmp_path: Path, session: Any) -> None:
    manifest = tmp_path / "narrow.yml"
    manifest.write_text("name: Narrow\ndefault_events: []\ndefault_permissions:\n  metadata: read\n  checks: read\n")
    running = await start_sandbox(state_dir=tmp_path / "narrow", manifest=manifest)
    world = World(running, session)
    try:
        await make_repo(world)
        sha = await head_of(world)
        token = await installation_token(world, "acme")
        refused = await as_app(world, token, "POST", "/repos/acme/app/check-runs", {"name": "x", "head_sha": sha})
        assert refused.status == 403 and refused.body["message"] == "Resource not accessible by integration"
        assert (await as_app(world, token, "GET", f"/repos/acme/app/commits/{sha}/check-runs")).status == 200
        no_statuses = await as_app(world, token, "GET", f"/repos/acme/app/commits/{sha}/status")
        assert no_statuses.status == 403
    finally:
        await world.close()


async def test_runs_created_at_once_share_one_suite(sandbox: World) -> None:
    import asyncio

    await make_repo(sandbox)
    sha = await head_of(sandbox)
    token = await installation_token(sandbox, "acme")
    answers = await asyncio.gather(
        *[
            as_app(
                sandbox,
                token,
                "POST",
                "/repos/acme/app/check-runs",
                {"name": f"check-{i}", "head_sha": sha, "status": "in_progress"},
            )
            for i in range(6)
        ]
    )
    assert [a.status for a in answers] == [201] * 6
    assert len({a.body["check_suite"]["id"] for a in answers}) == 1
    suites = await sandbox.call("bob", "GET", f"/repos/acme/app/commits/{sha}/check-suites")
    assert suites.body["total_count"] == 1 and suites.body["check_suites"][0]["latest_check_runs_count"] == 6
