"""The sandbox's GraphQL endpoint through real HTTP: `enablePullRequestAutoMerge` and GitHub's refusals of it."""

from __future__ import annotations

from typing import Any

import gidgethub
import pytest

from app_auth import as_app, installation_token
from bot.github.client import TransientError, graphql_endpoint
from bot.sandbox import seed
from bot.sandbox.harness import Answer, World
from bot.sandbox.routes.graphql import QueryRefused, mutation_input
from sandbox_calls import client_for, faults

REPO = "acme/app"
BY_INPUT = """
mutation($input: EnablePullRequestAutoMergeInput!) {
  enablePullRequestAutoMerge(input: $input) { pullRequest { autoMergeRequest { mergeMethod } } }
}"""
BY_FIELDS = """
# a comment with enablePullRequestAutoMerge(input: {}) in it
mutation Enable($id: ID!, $method: PullRequestMergeMethod!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: $method}) {
    pullRequest { number autoMergeRequest { mergeMethod enabledBy { login } } }
  }
}"""


async def repo_with_pr(world: World, *, allow_auto_merge: bool = True) -> dict[str, Any]:
    await seed.create_org_repo(world, "acme", "app", admin="alice", files={"a.txt": "a\n"})
    await seed.grant(world, REPO, "dana", "write")
    await seed.create_branch(world, "dana", REPO, "fix", "main")
    await seed.commit(world, "dana", REPO, "fix", {"a.txt": "A\n"}, "Fix a")
    if allow_auto_merge:
        answer = await world.call("alice", "PATCH", f"/repos/{REPO}", {"allow_auto_merge": True})
        assert answer.status == 200 and answer.body["allow_auto_merge"] is True, answer.body
    return await seed.open_pr(world, "dana", REPO, head="fix", base="main", title="Fix a", body="Fixes a")


async def as_token(world: World, token: str, body: Any) -> Answer:
    return await world.call(None, "POST", "/graphql", body, headers={"Authorization": f"token {token}"})


def refusal(answer: Answer) -> dict[str, Any]:
    assert answer.status == 200, answer.body
    assert "errors" in answer.body, answer.body
    return answer.body["errors"][0]


async def test_installation_turns_on_auto_merge(sandbox: World) -> None:
    pr = await repo_with_pr(sandbox)
    assert pr["auto_merge"] is None
    token = await installation_token(sandbox, "acme")
    answer = await as_token(
        sandbox, token, {"query": BY_FIELDS, "variables": {"id": pr["node_id"], "method": "SQUASH"}}
    )
    assert answer.status == 200 and "errors" not in answer.body, answer.body
    request = answer.body["data"]["enablePullRequestAutoMerge"]["pullRequest"]["autoMergeRequest"]
    assert request["mergeMethod"] == "SQUASH" and request["enabledBy"]["login"] == "release-train[bot]"
    shown = (await sandbox.call("alice", "GET", f"/repos/{REPO}/pulls/{pr['number']}")).body
    auto = shown["auto_merge"]
    assert auto["merge_method"] == "squash" and auto["enabled_by"]["login"] == "release-train[bot]"
    assert auto["enabled_by"]["type"] == "Bot"
    assert (auto["commit_title"], auto["commit_message"]) == (f"Fix a (#{pr['number']})", "Fixes a")
    # Listed PRs carry it too, and the PR is not merged: the sandbox never merges on its own.
    listed = (await sandbox.call("alice", "GET", f"/repos/{REPO}/pulls")).body
    assert listed[0]["auto_merge"]["merge_method"] == "squash" and shown["merged"] is False


async def test_user_with_write_and_the_input_variable(sandbox: World) -> None:
    pr = await repo_with_pr(sandbox)
    answer = await sandbox.call(
        "dana",
        "POST",
        "/graphql",
        {
            "query": BY_INPUT,
            "variables": {
                "input": {"pullRequestId": pr["node_id"], "mergeMethod": "MERGE", "commitHeadline": "Merge the fix"}
            },
        },
    )
    assert answer.status == 200 and "errors" not in answer.body, answer.body
    auto = (await sandbox.call("alice", "GET", f"/repos/{REPO}/pulls/{pr['number']}")).body["auto_merge"]
    assert (auto["merge_method"], auto["enabled_by"]["login"], auto["commit_title"]) == (
        "merge",
        "dana",
        "Merge the fix",
    )
    assert auto["commit_message"] == "Fix a"


async def test_unknown_id_is_not_found(sandbox: World) -> None:
    await repo_with_pr(sandbox)
    token = await installation_token(sandbox, "acme")
    error = refusal(
        await as_token(sandbox, token, {"query": BY_FIELDS, "variables": {"id": "PR_nothing", "method": "MERGE"}})
    )
    assert error["type"] == "NOT_FOUND" and "PR_nothing" in error["message"]


async def test_closed_and_merged_prs_are_refused(sandbox: World) -> None:
    pr = await repo_with_pr(sandbox)
    token = await installation_token(sandbox, "acme")
    body = {"query": BY_FIELDS, "variables": {"id": pr["node_id"], "method": "SQUASH"}}
    closed = await sandbox.call("dana", "PATCH", f"/repos/{REPO}/pulls/{pr['number']}", {"state": "closed"})
    assert closed.status == 200, closed.body
    error = refusal(await as_token(sandbox, token, body))
    assert (error["type"], error["message"]) == ("UNPROCESSABLE", "Pull request is closed")
    await sandbox.call("dana", "PATCH", f"/repos/{REPO}/pulls/{pr['number']}", {"state": "open"})
    await seed.merge_pr(sandbox, "alice", REPO, pr["number"], "merge")
    error = refusal(await as_token(sandbox, token, body))
    assert error["message"] == "Pull request is already merged"
    assert (await sandbox.call("alice", "GET", f"/repos/{REPO}/pulls/{pr['number']}")).body["auto_merge"] is None


async def test_missing_permission_and_repository_setting(sandbox: World) -> None:
    pr = await repo_with_pr(sandbox, allow_auto_merge=False)
    body = {"query": BY_FIELDS, "variables": {"id": pr["node_id"], "method": "SQUASH"}}
    narrow = await installation_token(sandbox, "acme", {"contents": "write", "pull_requests": "read"})
    error = refusal(await as_token(sandbox, narrow, body))
    assert (error["type"], error["message"]) == ("FORBIDDEN", "Resource not accessible by integration")
    await seed.grant(sandbox, REPO, "rob", "read")
    assert refusal(await sandbox.call("rob", "POST", "/graphql", body))["type"] == "FORBIDDEN"
    # GitHub's default: a repository does not allow auto-merge until an admin turns it on.
    token = await installation_token(sandbox, "acme")
    error = refusal(await as_token(sandbox, token, body))
    assert error["message"] == "Pull request Auto merge is not allowed for this repository"
    # Another account's installation cannot see the PR at all.
    await seed.create_org_repo(sandbox, "other", "lib", admin="olga")
    foreign = await installation_token(sandbox, "other")
    assert refusal(await as_token(sandbox, foreign, body))["type"] == "NOT_FOUND"
    assert (await sandbox.call("alice", "GET", f"/repos/{REPO}/pulls/{pr['number']}")).body["auto_merge"] is None


async def test_callers_and_bodies_refused_as_github_does(sandbox: World) -> None:
    pr = await repo_with_pr(sandbox)
    anonymous = await sandbox.call(None, "POST", "/graphql", {"query": BY_INPUT})
    assert anonymous.status == 401 and anonymous.body["message"] == "This endpoint requires you to be authenticated."
    assert (await as_app(sandbox, "POST", "/graphql", {"query": BY_INPUT})).status == 403
    not_json = await sandbox.call("dana", "POST", "/graphql", "not json")
    assert not_json.status == 400
    other = refusal(await sandbox.call("dana", "POST", "/graphql", {"query": "{ viewer { login } }"}))
    assert other["extensions"]["code"] == "undefinedField"
    unknown = refusal(
        await sandbox.call(
            "dana", "POST", "/graphql", {"query": "mutation { mergePullRequest(input: {}) { clientMutationId } }"}
        )
    )
    assert unknown["message"] == "Field 'mergePullRequest' doesn't exist on type 'Mutation'"
    bad_method = refusal(
        await sandbox.call(
            "dana", "POST", "/graphql", {"query": BY_FIELDS, "variables": {"id": pr["node_id"], "method": "FAST"}}
        )
    )
    assert "mergeMethod" in bad_method["message"]
    no_query = refusal(await sandbox.call("dana", "POST", "/graphql", {"variables": {}}))
    assert no_query["message"] == "A query attribute must be specified and must be a string."


@pytest.mark.parametrize(
    ("query", "variables", "expected"),
    [
        (
            BY_INPUT,
            {"input": {"pullRequestId": "X", "mergeMethod": "REBASE"}},
            {"pullRequestId": "X", "mergeMethod": "REBASE"},
        ),
        (BY_FIELDS, {"id": "X", "method": "SQUASH"}, {"pullRequestId": "X", "mergeMethod": "SQUASH"}),
        (
            'mutation { enablePullRequestAutoMerge(input: {pullRequestId: "P{1}", mergeMethod: MERGE}) { clientMutationId } }',
            {},
            {"pullRequestId": "P{1}", "mergeMethod": "MERGE"},
        ),
        (
            'mutation { done: enablePullRequestAutoMerge(input: {pullRequestId: "a#b"}) { clientMutationId } }',
            {},
            {"pullRequestId": "a#b"},
        ),
    ],
)
def test_mutation_input_read_from_the_query(query: str, variables: dict[str, Any], expected: dict[str, Any]) -> None:
    assert mutation_input(query, variables) == expected


@pytest.mark.parametrize(
    "query",
    [
        "",
        "query { viewer { login } }",
        "mutation { addComment(input: {}) { clientMutationId } }",
        "mutation { enablePullRequestAutoMerge { clientMutationId } }",
        "mutation { enablePullRequestAutoMerge(input: {pullRequestId: ",
    ],
)
def test_mutation_input_refuses_other_queries(query: str) -> None:
    with pytest.raises(QueryRefused):
        mutation_input(query, {})


@pytest.mark.parametrize(
    ("api_url", "expected"),
    [
        ("https://api.github.com", "https://api.github.com/graphql"),
        ("https://api.github.com/", "https://api.github.com/graphql"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com/api/graphql"),
        ("https://ghe.example.com/api/v3/", "https://ghe.example.com/api/graphql"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/graphql"),
    ],
)
def test_graphql_endpoint_from_the_rest_url(api_url: str, expected: str) -> None:
    assert graphql_endpoint(api_url) == expected


# the bot's client against the endpoint ---------------------------------------------------------------


async def test_client_speaks_graphql_at_the_derived_url(sandbox: World) -> None:
    pr = await repo_with_pr(sandbox)
    gh, _ = await client_for(sandbox, "acme")
    assert gh.graphql_url == sandbox.api_url + "/graphql"
    data = await gh.graphql(BY_FIELDS, id=pr["node_id"], method="REBASE")
    assert data["enablePullRequestAutoMerge"]["pullRequest"]["autoMergeRequest"]["mergeMethod"] == "REBASE"
    assert (await sandbox.call("alice", "GET", f"/repos/{REPO}/pulls/{pr['number']}")).body["auto_merge"][
        "merge_method"
    ] == "rebase"
    # A refusal in the body (HTTP 200) is raised with GitHub's message.
    with pytest.raises(gidgethub.QueryError) as caught:
        await gh.graphql(BY_FIELDS, id="PR_gone", method="MERGE")
    assert "PR_gone" in str(caught.value) and caught.value.response["errors"][0]["type"] == "NOT_FOUND"


@pytest.mark.parametrize(("fault_seed", "kind"), [(1, "502-after"), (0, "secondary-after")])
async def test_client_hands_a_failing_github_to_the_queue_without_repeating(
    sandbox: World, fault_seed: int, kind: str
) -> None:
    pr = await repo_with_pr(sandbox)
    gh, _ = await client_for(sandbox, "acme")
    # The mutation is applied, then the answer fails (a 502 or a secondary rate limit, by seed).
    await faults(sandbox, api=1.0, after=1.0, seed=fault_seed, retry_after=0)
    since = sandbox.last_seq()
    with pytest.raises(TransientError):
        await gh.graphql(BY_FIELDS, id=pr["node_id"], method="SQUASH")
    await faults(sandbox)
    assert [(e["path"], e["fault"]) for e in sandbox.app_requests(since)] == [("/graphql", kind)]
    assert (await sandbox.call("alice", "GET", f"/repos/{REPO}/pulls/{pr['number']}")).body["auto_merge"][
        "merge_method"
    ] == "squash"
