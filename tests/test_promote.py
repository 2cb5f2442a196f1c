"""Stories through the sandbox: /promote re-checks everything, then tags, releases, fast-forwards, deploys and hands off."""

from __future__ import annotations

from typing import Any

from bot.sandbox import seed
from bot.sandbox.harness import World
from release_story import (
    FULL,
    PROMOTE_CONFIG,
    all_green,
    ci_check,
    cut,
    gate_state,
    labels_of,
    release_repo,
    reply_to,
    say,
    tag,
    tracking_issues,
)
from sandbox_calls import outage

CONFIG = (
    PROMOTE_CONFIG
    + """\
  on_rc_created:
    - {workflow: build-images.yml, inputs: {version: "{version}", sha: "{sha}"}}
    - {workflow: notify.yml, inputs: {version: "{version}"}}
"""
)
BUILD = """\
name: build images
on:
  workflow_dispatch:
    inputs:
      version: {required: true}
      sha: {required: true}
jobs: {}
"""
NOTIFY = "name: notify\non: workflow_dispatch\njobs: {}\n"


async def promotable(world: World) -> tuple[int, str]:
    """rc/1.5 cut after a merged feature PR, every gate requirement met; (tracking issue, head)."""
    await release_repo(world, CONFIG)
    await seed.commit(
        world,
        "alice",
        FULL,
        "devel",
        {".github/workflows/build-images.yml": BUILD, ".github/workflows/notify.yml": NOTIFY},
        "CI workflows",
    )
    v140 = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.4")).body["object"]["sha"]
    await seed.create_branch(world, "alice", FULL, "production", v140)
    await seed.create_branch(world, "dana", FULL, "fr/FR-7-search", "devel")
    await seed.commit(world, "dana", FULL, "fr/FR-7-search", {"search.py": "def search(): ...\n"}, "Search")
    feature = await seed.open_pr(world, "dana", FULL, head="fr/FR-7-search", base="devel", title="Search for @everyone")
    await seed.merge_pr(world, "alice", FULL, feature["number"])
    await world.settle()
    await cut(world)
    [issue] = await tracking_issues(world)
    head = await sha_of(world, "heads/rc/1.5")
    await all_green(world, issue["number"], head)
    assert await gate_state(world, head) == "success"
    return int(issue["number"]), head


async def sha_of(world: World, ref: str) -> str | None:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/git/ref/{ref}")
    return answer.body["object"]["sha"] if answer.status == 200 else None


async def peeled(world: World, name: str) -> tuple[str, str] | None:
    """(object type of the ref, commit it names) for a tag."""
    answer = await world.call("alice", "GET", f"/repos/{FULL}/git/ref/tags/{name}")
    if answer.status != 200:
        return None
    target = answer.body["object"]
    if target["type"] == "tag":
        return "tag", (await world.call("alice", "GET", f"/repos/{FULL}/git/tags/{target['sha']}")).body["object"][
            "sha"
        ]
    return target["type"], target["sha"]


async def deployments(world: World) -> list[dict[str, Any]]:
    return (await world.call("alice", "GET", f"/repos/{FULL}/deployments?per_page=100")).body


async def releases(world: World) -> list[dict[str, Any]]:
    return (await world.call("alice", "GET", f"/repos/{FULL}/releases?per_page=100")).body


def effects(world: World, since: int) -> list[str]:
    """The app's writes other than its replies and reactions."""
    return [
        f"{r['method']} {r['path']}"
        for r in world.app_requests(since)
        if r["method"] != "GET"
        and not r["path"].endswith(("/comments", "/reactions"))
        and "/check-runs" not in r["path"]
        and not (r["method"] == "PATCH" and "/issues/" in r["path"])  # the dashboard
    ]


async def test_cut_dispatches_workflows_and_reports_a_refusal(world: World) -> None:
    number, head = await promotable(world)
    runs = (await world.call(None, "GET", f"/_sandbox/dispatches/{FULL}")).body["workflow_dispatches"]
    assert [(r["workflow"], r["ref"], r["head_sha"], r["inputs"], r["actor"]) for r in runs] == [
        ("build-images.yml", "rc/1.5", head, {"version": "1.5", "sha": head}, "release-train[bot]")
    ]
    comments = (await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}/comments?per_page=100")).body
    refusal = [c["body"] for c in comments if "refused to dispatch workflow `notify.yml`" in c["body"]]
    assert len(refusal) == 1 and "Unexpected inputs" in refusal[0]


async def test_promote_tags_releases_fast_forwards_deploys_and_hands_off(world: World) -> None:
    number, head = await promotable(world)
    denied = await say(world, "dana", number, "/promote")
    assert "reserved for the RTE" in await reply_to(world, number, denied)
    assert await peeled(world, "v1.5.0") is None

    made = await say(world, "rita", number, "/promote")
    reply = await reply_to(world, number, made)
    assert "as `v1.5.0`" in reply
    assert await peeled(world, "v1.5.0") == ("tag", head)  # annotated, on the SHA it evaluated
    [release] = await releases(world)
    assert (
        release["tag_name"] == "v1.5.0"
        and "Search for" in release["body"]
        and "@everyone" not in release["body"].replace("@\u200deveryone", "")
    )
    assert await sha_of(world, "heads/production") == head
    [deployment] = await deployments(world)
    assert deployment["environment"] == "production" and deployment["sha"] == head
    assert deployment["payload"] == {"version": "1.5", "tag": "v1.5.0", "sha": head}
    comments = (await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}/comments?per_page=100")).body
    [handoff] = [c["body"] for c in comments if "release-train:handoff:v1.5.0" in c["body"]]
    assert "@acme/rops" in handoff and "@acme/fe" in handoff
    [issue] = await tracking_issues(world)
    assert "released" in labels_of(issue) and issue["state"] == "open"

    # a second /promote on the same head reports the release and changes nothing
    since = world.last_seq()
    again = await say(world, "rita", number, "/promote")
    assert "already promoted as `v1.5.0`" in await reply_to(world, number, again)
    assert effects(world, since) == []

    # a fix lands on the RC: the gate resets, /promote refuses until it is green again, then v1.5.1
    fix = await seed.commit(world, "rita", FULL, "rc/1.5", {"app.py": "x = 15\n"}, "Fix checkout (#21)")
    await world.settle()
    since = world.last_seq()
    refused = await say(world, "rita", number, "/promote")
    text = await reply_to(world, number, refused)
    assert "I did not promote" in text and "check `regression`" in text and "PdM sign-off" in text
    assert effects(world, since) == [] and await peeled(world, "v1.5.1") is None
    await all_green(world, number, fix)
    made = await say(world, "rita", number, "/promote")
    assert "as `v1.5.1`" in await reply_to(world, number, made)
    assert await peeled(world, "v1.5.1") == ("tag", fix)
    assert await sha_of(world, "heads/production") == fix
    assert {d["payload"]["tag"] for d in await deployments(world)} == {"v1.5.0", "v1.5.1"}


async def test_promote_refuses_when_production_cannot_fast_forward(world: World) -> None:
    number, _head = await promotable(world)
    await seed.commit(world, "alice", FULL, "production", {"hotfix.txt": "prod only\n"}, "Hotfix on production")
    await world.settle()
    since = world.last_seq()
    made = await say(world, "rita", number, "/promote")
    text = await reply_to(world, number, made)
    assert "production can fast-forward" in text and "nothing was changed" in text
    assert effects(world, since) == [] and await peeled(world, "v1.5.0") is None and await releases(world) == []


async def test_promote_resumes_after_a_crash_between_steps(world: World) -> None:
    number, head = await promotable(world)
    await outage(world, f"POST /repos/{FULL}/deployments")  # the bot tags, releases, moves production, then fails
    await say(world, "rita", number, "/promote")
    assert await peeled(world, "v1.5.0") == ("tag", head) and [r["tag_name"] for r in await releases(world)] == [
        "v1.5.0"
    ]
    assert await deployments(world) == []
    await outage(world)
    made = await say(world, "rita", number, "/promote")
    reply = await reply_to(world, number, made)
    assert "Finished promoting" in reply and "created the `production` deployment" in reply
    assert "tagged" not in reply and "deployment, handoff" not in reply  # what this run did, in people's words
    assert [r["tag_name"] for r in await releases(world)] == ["v1.5.0"]
    assert len(await deployments(world)) == 1 and await sha_of(world, "heads/production") == head
    [issue] = await tracking_issues(world)
    assert "released" in labels_of(issue)


async def deleted_tag(world: World, name: str) -> None:
    assert (await world.call("alice", "DELETE", f"/repos/{FULL}/git/refs/tags/{name}")).status == 204
    await world.settle()


async def test_a_developers_tag_at_the_rc_head_does_not_promote_past_a_red_gate(world: World) -> None:
    number, head = await promotable(world)
    await ci_check(world, head, "sanity", conclusion="failure")
    assert await gate_state(world, head) == "failure"
    production = await sha_of(world, "heads/production")
    await tag(world, "v1.5.0", head, login="dana")  # dana, with write access, tags the RC head herself

    made = await say(world, "rita", number, "/promote")
    reply = await reply_to(world, number, made)
    assert await releases(world) == [] and await deployments(world) == []
    assert await sha_of(world, "heads/production") == production
    assert "`v1.5.0`" in reply and "dana" in reply

    # the gate goes green, but the tag is still dana's: still nothing is published
    await ci_check(world, head, "sanity")
    assert await gate_state(world, head) == "success"
    made = await say(world, "rita", number, "/promote")
    assert "`v1.5.0`" in await reply_to(world, number, made)
    assert await releases(world) == [] and await deployments(world) == []

    # control: an admin deletes dana's tag, and the RTE's /promote makes its own
    await deleted_tag(world, "v1.5.0")
    made = await say(world, "rita", number, "/promote")
    assert "v1.5.0" in await reply_to(world, number, made)
    assert await peeled(world, "v1.5.0") == ("tag", head)
    assert [r["tag_name"] for r in await releases(world)] == ["v1.5.0"]
    assert len(await deployments(world)) == 1 and await sha_of(world, "heads/production") == head


async def test_a_resumed_promotion_re_evaluates_the_gate(world: World) -> None:
    number, head = await promotable(world)
    await outage(world, f"POST /repos/{FULL}/releases")  # GitHub fails the release step, again and again
    await say(world, "rita", number, "/promote")
    assert await peeled(world, "v1.5.0") == ("tag", head) and await releases(world) == []
    await outage(world)
    await ci_check(world, head, "sanity", conclusion="failure")  # then CI finds a problem on the head

    made = await say(world, "rita", number, "/promote")
    assert "I did not promote" in await reply_to(world, number, made)
    assert await releases(world) == [] and await deployments(world) == []

    await ci_check(world, head, "sanity")  # control: CI passes again, and the promotion finishes
    made = await say(world, "rita", number, "/promote")
    assert "v1.5.0" in await reply_to(world, number, made)
    assert [r["tag_name"] for r in await releases(world)] == ["v1.5.0"]
    assert len(await deployments(world)) == 1 and await sha_of(world, "heads/production") == head
