"""The sandbox's teams, memberships, collaborators and permission, over real HTTP as people and as the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.sandbox.harness import World
from bot.sandbox.runner import start_sandbox
from sandbox_calls import as_app, installation_token, make_repo


async def test_an_org_admin_builds_teams_and_the_app_reads_them(sandbox: World) -> None:
    await make_repo(sandbox, "acme", "app", admin="alice")
    # The first membership PUT by an org admin creates the team.
    added = await sandbox.call("alice", "PUT", "/orgs/acme/teams/qa/memberships/quinn", {"role": "member"})
    assert added.status == 200
    assert added.body["state"] == "active" and added.body["role"] == "member"
    maintainer = await sandbox.call("alice", "PUT", "/orgs/acme/teams/qa/memberships/mia", {"role": "maintainer"})
    assert maintainer.body["role"] == "maintainer"
    # A team maintainer may add members; someone outside the org may not.
    assert (await sandbox.call("mia", "PUT", "/orgs/acme/teams/qa/memberships/otto", {})).status == 200
    assert (await sandbox.call("mallory", "PUT", "/orgs/acme/teams/qa/memberships/mallory", {})).status == 403
    assert (await sandbox.call("alice", "PUT", "/orgs/acme/teams/qa/memberships/quinn", {"role": "boss"})).status == 422

    team = await sandbox.call("quinn", "GET", "/orgs/acme/teams/qa")
    assert team.status == 200
    assert team.body["slug"] == "qa" and team.body["members_count"] == 3
    assert team.body["organization"]["login"] == "acme"
    assert (await sandbox.call("quinn", "GET", "/orgs/acme/teams/nope")).status == 404
    assert (await sandbox.call("quinn", "GET", "/orgs/nobody/teams/qa")).status == 404

    token = await installation_token(sandbox, "acme")
    member = await as_app(sandbox, token, "GET", "/orgs/acme/teams/qa/memberships/quinn")
    assert member.status == 200 and member.body == {**member.body, "state": "active", "role": "member"}
    assert (await as_app(sandbox, token, "GET", "/orgs/acme/teams/qa/memberships/bob")).status == 404
    assert (await as_app(sandbox, token, "GET", "/orgs/acme/teams/qa")).status == 200
    # members: read lets the app look, not change.
    refused = await as_app(sandbox, token, "PUT", "/orgs/acme/teams/qa/memberships/bob", {})
    assert refused.status == 403 and refused.body["message"] == "Resource not accessible by integration"

    assert (await sandbox.call("alice", "DELETE", "/orgs/acme/teams/qa/memberships/otto")).status == 204
    assert (await as_app(sandbox, token, "GET", "/orgs/acme/teams/qa/memberships/otto")).status == 404

    created = await sandbox.call(
        "alice", "POST", "/orgs/acme/teams", {"name": "Release Engineers", "description": "RTE"}
    )
    assert created.status == 201 and created.body["slug"] == "release-engineers"
    assert (await sandbox.call("alice", "POST", "/orgs/acme/teams", {"name": "Release Engineers"})).status == 422
    assert (await sandbox.call("bob", "POST", "/orgs/acme/teams", {"name": "Bob's"})).status == 403
    listed = await sandbox.call("alice", "GET", "/orgs/acme/teams")
    assert [t["slug"] for t in listed.body] == ["qa", "release-engineers"]


async def test_collaborator_permissions_report_role_name_and_the_legacy_permission(sandbox: World) -> None:
    await make_repo(sandbox, "acme", "app", admin="alice")
    first = await sandbox.call("alice", "PUT", "/repos/acme/app/collaborators/mo", {"permission": "maintain"})
    assert first.status == 201  # the invitation (accepted at once in the sandbox)
    assert first.body["invitee"]["login"] == "mo" and first.body["permissions"] == "maintain"
    assert (
        await sandbox.call("alice", "PUT", "/repos/acme/app/collaborators/mo", {"permission": "maintain"})
    ).status == 204
    await sandbox.call("alice", "PUT", "/repos/acme/app/collaborators/tri", {"permission": "triage"})
    await sandbox.call("alice", "PUT", "/repos/acme/app/collaborators/dev", {})
    assert (
        await sandbox.call("alice", "PUT", "/repos/acme/app/collaborators/x", {"permission": "owner"})
    ).status == 422
    assert (await sandbox.call("dev", "PUT", "/repos/acme/app/collaborators/y", {"permission": "admin"})).status == 403

    async def permission(login: str) -> tuple[str, str]:
        answer = await sandbox.call("bob", "GET", f"/repos/acme/app/collaborators/{login}/permission")
        assert answer.status == 200, answer.body
        assert answer.body["user"]["login"].lower() == login.lower()
        return answer.body["permission"], answer.body["role_name"]

    assert await permission("alice") == ("admin", "admin")
    assert await permission("mo") == ("write", "maintain")  # maintain reports as write
    assert await permission("tri") == ("read", "triage")  # triage reports as read
    assert await permission("dev") == ("write", "write")
    assert await permission("bob") == ("read", "read")  # a public repository
    assert (
        await sandbox.call("bob", "GET", "/repos/acme/app/collaborators/ghost-who-never-was/permission")
    ).status == 404

    assert (await sandbox.call("bob", "GET", "/repos/acme/app/collaborators/dev")).status == 204
    assert (await sandbox.call("bob", "GET", "/repos/acme/app/collaborators/bob")).status == 404
    assert (await sandbox.call("alice", "DELETE", "/repos/acme/app/collaborators/dev")).status == 204
    assert await permission("dev") == ("read", "read")

    # A team's grant on the repository reaches its members.
    await sandbox.call("alice", "PUT", "/orgs/acme/teams/rte/memberships/rita", {})
    assert (
        await sandbox.call("alice", "PUT", "/orgs/acme/teams/rte/repos/acme/app", {"permission": "maintain"})
    ).status == 204
    assert await permission("rita") == ("write", "maintain")

    token = await installation_token(sandbox, "acme")
    as_bot = await as_app(sandbox, token, "GET", "/repos/acme/app/collaborators/mo/permission")
    assert as_bot.status == 200 and as_bot.body["role_name"] == "maintain"
    # The app has no administration permission: it cannot add collaborators.
    assert (await as_app(sandbox, token, "PUT", "/repos/acme/app/collaborators/z", {})).status == 403


async def test_an_app_without_members_permission_cannot_read_teams(tmp_path: Path, session: Any) -> None:
    manifest = tmp_path / "narrow.yml"
    manifest.write_text("name: Narrow\ndefault_events: []\ndefault_permissions:\n  metadata: read\n")
    running = await start_sandbox(state_dir=tmp_path / "narrow", manifest=manifest)
    world = World(running, session)
    try:
        await make_repo(world, "acme", "app", admin="alice")
        await world.call("alice", "PUT", "/orgs/acme/teams/qa/memberships/quinn", {})
        token = await installation_token(world, "acme")
        refused = await as_app(world, token, "GET", "/orgs/acme/teams/qa/memberships/quinn")
        assert refused.status == 403 and refused.body["message"] == "Resource not accessible by integration"
    finally:
        await world.close()
