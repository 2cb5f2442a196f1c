"""Branch protection and rulesets in force on a ref, and GitHub's refusals of the merges and ref updates they forbid.

Classic protection lives in `repo["branch_protection"][branch]` (routes/protection.py), rulesets in
`repo["rulesets"][id]` (routes/rulesets.py). Every ref change goes through `guard_ref` (called by
routes/repos.move_ref and the git refs routes); a pull request's merge goes through `guard_merge`.
Who acts is the request's Actor: a user (with their repository role), or this sandbox's app through
an installation token (its id and slug are what `restrictions.apps`, `bypass_pull_request_allowances`
and a ruleset's Integration bypass actor name).

Deliberate differences from GitHub, kept small:
- A required check is met by the latest result of each source that posts that name on the commit
  (check runs per app, commit statuses per context): every source must have passed, one failure is
  "failing", and a missing or pending one is "expected". A check pinned to an app (`app_id`,
  `integration_id`) counts only that app's check runs, and commit statuses only when that app's
  installation posted them.
- There are no pull request reviews in the sandbox: a rule that asks for approving reviews
  (`required_approving_review_count` above 0) refuses every merge it applies to.
- Messages are GitHub's, one per broken rule; the 422s of the git refs API and the merges API
  carry them as the message, the contents API answers 409 "Could not update file: ...", a
  release whose new tag is refused answers 422 with a `pre_receive` error, and a pull request
  merge answers 405.
- Ruleset `evaluate` enforcement is never enforced (as on GitHub) and is not reported by
  `GET /rules/branches/{branch}`; `push` rulesets (organisation-only on GitHub) are refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from wcmatch import glob

from bot.sandbox.common import Actor, ApiError, actor, git, store, user_permission
from bot.sandbox.git import GitRepos
from bot.sandbox.state import Store

PROTECTED_DOCS = "https://docs.github.com/articles/about-protected-branches"
GOOD_CONCLUSIONS = ("success", "neutral", "skipped")
# Built-in repository roles as ruleset bypass actors name them (actor_id of a RepositoryRole).
REPOSITORY_ROLE_IDS = {1: "read", 2: "maintain", 3: "triage", 4: "write", 5: "admin"}
REF_MATCH = glob.GLOBSTAR | glob.DOTGLOB | glob.NEGATE | glob.BRACE


@dataclass(frozen=True)
class RequiredCheck:
    context: str
    app_id: int | None  # None: any source


class Refused(ApiError):
    """A ref change or merge that protection forbids: the broken rules' messages, and whether a ruleset said so."""

    def __init__(self, status: int, messages: list[str], *, ruleset: bool) -> None:
        text = (
            "Repository rule violations found\n\n" + "".join(f"{m}\n\n" for m in messages) if ruleset else messages[0]
        )
        super().__init__(status, text)
        self.messages = messages
        self.ruleset = ruleset


# --- who acts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pusher:
    """The actor of a ref change as protection sees it."""

    login: str
    user_id: int | None
    app_id: int | None  # this sandbox's app, for an installation
    app_slug: str | None
    role: str  # the repository role (admin, maintain, write, triage, read, none)
    teams: frozenset[str]  # slugs of the owner organisation's teams the user is in
    team_ids: frozenset[int]
    org_admin: bool


def pusher(request: web.Request, repo: dict[str, Any]) -> Pusher:
    st = store(request)
    who = actor(request)
    return pusher_of(st, repo, who)


def pusher_of(st: Store, repo: dict[str, Any], who: Actor) -> Pusher:
    if who.kind in ("installation", "app"):
        app = st.data["app"]
        return Pusher(
            login=who.login or "",
            user_id=None,
            app_id=int(app["id"]),
            app_slug=str(app["slug"]),
            role="write",
            teams=frozenset(),
            team_ids=frozenset(),
            org_admin=False,
        )
    login = who.login or ""
    owner = repo["owner"]["login"].lower()
    prefix = owner + "/"
    teams = {
        (key[len(prefix) :], int(team["id"]))
        for key, team in st.data["teams"].items()
        if key.startswith(prefix) and login.lower() in team.get("members", {})
    }
    record = st.find_user(login) or {}
    owner_record = st.find_user(owner) or {}
    return Pusher(
        login=login,
        user_id=record.get("id"),
        app_id=None,
        app_slug=None,
        role=user_permission(st, repo, login) if login else "none",
        teams=frozenset(slug for slug, _ in teams),
        team_ids=frozenset(team_id for _, team_id in teams),
        org_admin=login.lower() in {a.lower() for a in owner_record.get("admins", [])},
    )


def listed(who: Pusher, allowance: dict[str, Any] | None) -> bool:
    """Whether users/teams/apps lists (of logins, team slugs and app slugs) name this pusher."""
    if not allowance:
        return False
    if who.app_slug is not None:
        return who.app_slug.lower() in {str(a).lower() for a in allowance.get("apps", [])}
    if who.login.lower() in {str(u).lower() for u in allowance.get("users", [])}:
        return True
    return bool({str(t).lower() for t in allowance.get("teams", [])} & {t.lower() for t in who.teams})


# --- required checks ------------------------------------------------------------------------


def check_results(repo: dict[str, Any], sha: str) -> list[tuple[str, int | None, str]]:
    """(name, app id or None for a status, state) of the latest result of each source on the commit."""
    latest_runs: dict[tuple[int, str], dict[str, Any]] = {}
    suites = repo.get("check_suites", {})
    for run in sorted(repo.get("check_runs", {}).values(), key=lambda r: r["id"]):
        if run["head_sha"] != sha:
            continue
        app_id = int(suites[str(run["check_suite_id"])]["app"]["id"])
        latest_runs[(app_id, run["name"])] = run
    results: list[tuple[str, int | None, str]] = []
    for (app_id, name), run in latest_runs.items():
        if run.get("status") != "completed":
            state = "pending"
        else:
            state = "success" if run.get("conclusion") in GOOD_CONCLUSIONS else "failure"
        results.append((name, app_id, state))
    latest_statuses: dict[str, dict[str, Any]] = {}
    for record in sorted(repo.get("statuses", []), key=lambda r: r["id"]):
        if record["sha"] == sha:
            latest_statuses[record["context"]] = record
    for context, record in latest_statuses.items():
        state = {"success": "success", "pending": "pending"}.get(record["state"], "failure")
        results.append((context, record.get("app_id"), state))
    return results


def unmet_checks(
    required: Iterable[RequiredCheck], results: list[tuple[str, int | None, str]]
) -> list[tuple[str, str]]:
    """(context, "expected" | "failing") for each required check the results do not meet."""
    unmet = []
    for check in required:
        states = [
            state
            for name, app_id, state in results
            if name == check.context and (check.app_id is None or app_id == check.app_id)
        ]
        if "failure" in states:
            unmet.append((check.context, "failing"))
        elif not states or "pending" in states:
            unmet.append((check.context, "expected"))
    return unmet


def checks_message(unmet: list[tuple[str, str]], total: int) -> str:
    if len(unmet) == 1:
        context, how = unmet[0]
        return f'Required status check "{context}" is {how}.'
    if all(how == "expected" for _, how in unmet):
        return f"{len(unmet)} of {total} required status checks are expected."
    return f"{len(unmet)} of {total} required status checks have not succeeded."


async def checks_refusal(
    repos: GitRepos,
    repo: dict[str, Any],
    required: list[RequiredCheck],
    sha: str,
    *,
    strict_base: str | None = None,
) -> str | None:
    """The message for required checks that `sha` does not meet (all of them, when strict and behind the base)."""
    if not required:
        return None
    if strict_base is not None and not await repos.is_ancestor(repo["full_name"], strict_base, sha):
        return checks_message([(c.context, "expected") for c in required], len(required))
    unmet = unmet_checks(required, check_results(repo, sha))
    return checks_message(unmet, len(required)) if unmet else None


# --- classic protection ---------------------------------------------------------------------


def classic(repo: dict[str, Any], ref: str) -> dict[str, Any] | None:
    if not ref.startswith("refs/heads/"):
        return None
    return repo.get("branch_protection", {}).get(ref[len("refs/heads/") :])


def protection_summary(repo: dict[str, Any], branch: str) -> dict[str, Any]:
    """What GET branches/{branch} shows anyone who may read the repository: `protected` and the summary."""
    record = repo.get("branch_protection", {}).get(branch)
    if record is None:
        return {
            "protected": False,
            "protection": {
                "enabled": False,
                "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
            },
        }
    policy = record.get("required_status_checks")
    checks = policy["checks"] if policy else []
    level = "off" if not policy else ("everyone" if record.get("enforce_admins") else "non_admins")
    return {
        "protected": True,
        "protection": {
            "enabled": True,
            "required_status_checks": {
                "enforcement_level": level,
                "contexts": [c["context"] for c in checks],
                "checks": [{"context": c["context"], "app_id": c["app_id"]} for c in checks],
            },
        },
    }


def classic_checks(record: dict[str, Any]) -> list[RequiredCheck]:
    policy = record.get("required_status_checks") or {}
    return [RequiredCheck(c["context"], c.get("app_id")) for c in policy.get("checks", [])]


def classic_exempt(record: dict[str, Any], who: Pusher) -> bool:
    """Admins pass classic protection unless `enforce_admins` is on."""
    return who.role == "admin" and not record.get("enforce_admins")


# --- rulesets -------------------------------------------------------------------------------


def ruleset_patterns(ruleset: dict[str, Any], repo: dict[str, Any], key: str) -> list[str]:
    prefix = "refs/tags/" if ruleset.get("target") == "tag" else "refs/heads/"
    patterns = []
    for given in ((ruleset.get("conditions") or {}).get("ref_name") or {}).get(key, []):
        if given == "~DEFAULT_BRANCH":
            patterns.append("refs/heads/" + repo.get("default_branch", "main"))
        elif given == "~ALL":
            patterns.append(prefix + "**")
        else:
            patterns.append(given if given.startswith("refs/") else prefix + given)
    return patterns


def ruleset_applies(ruleset: dict[str, Any], repo: dict[str, Any], ref: str) -> bool:
    if ruleset.get("enforcement") != "active":
        return False
    kind = "refs/tags/" if ruleset.get("target") == "tag" else "refs/heads/"
    if not ref.startswith(kind):
        return False
    include = ruleset_patterns(ruleset, repo, "include")
    exclude = ruleset_patterns(ruleset, repo, "exclude")
    matched = any(glob.globmatch(ref, p, flags=REF_MATCH) for p in include)
    return matched and not any(glob.globmatch(ref, p, flags=REF_MATCH) for p in exclude)


def rulesets_for(repo: dict[str, Any], ref: str) -> list[dict[str, Any]]:
    return [
        r
        for _, r in sorted(repo.get("rulesets", {}).items(), key=lambda kv: int(kv[0]))
        if ruleset_applies(r, repo, ref)
    ]


def bypass_mode(ruleset: dict[str, Any], who: Pusher) -> str:
    """How this pusher may bypass the ruleset: always, pull_request, exempt, or never."""
    best = "never"
    for entry in ruleset.get("bypass_actors", []):
        kind, actor_id = entry.get("actor_type"), entry.get("actor_id")
        matches = (
            (kind == "Integration" and who.app_id is not None and actor_id == who.app_id)
            or (kind == "User" and who.user_id is not None and actor_id == who.user_id)
            or (kind == "Team" and actor_id in who.team_ids)
            or (kind == "OrganizationAdmin" and who.org_admin)
            or (kind == "RepositoryRole" and REPOSITORY_ROLE_IDS.get(int(actor_id or 0)) == who.role)
        )
        if matches:
            mode = entry.get("bypass_mode") or "always"
            if mode in ("always", "exempt") or best == "never":
                best = mode
    return best


def ruleset_checks(rule: dict[str, Any]) -> list[RequiredCheck]:
    params = rule.get("parameters") or {}
    return [RequiredCheck(c["context"], c.get("integration_id")) for c in params.get("required_status_checks", [])]


def review_count_message(count: int) -> str:
    reviews = "review is" if count == 1 else "reviews are"
    return f"At least {count} approving {reviews} required by reviewers with write access."


# --- the guards -----------------------------------------------------------------------------


async def guard_ref(
    request: web.Request, repo: dict[str, Any], ref: str, old: str | None, new: str | None, *, api: str = "refs"
) -> None:
    """Refuse a ref change (not a pull request merge) that the branch's protection or a ruleset forbids.

    api names the door the change came through, for GitHub's answer: "refs" (git refs and merges,
    422), "contents" (409), "release" (422 with a pre_receive error).
    """
    repos = git(request)
    full = repo["full_name"]
    who = pusher(request, repo)
    forced = bool(old and new and not await repos.is_ancestor(full, old, new))
    record = classic(repo, ref)
    if record is not None and old is not None and not classic_exempt(record, who):
        message = None
        restrictions = record.get("restrictions")
        if restrictions is not None and not listed(who, restrictions):
            message = "You're not authorized to push to this branch. Visit https://docs.github.com/articles/about-protected-branches/ for more information."
        elif new is None and not record.get("allow_deletions"):
            message = "Cannot delete this protected branch"
        elif forced and not record.get("allow_force_pushes"):
            message = "Cannot force-push to this protected branch"
        elif record.get("required_pull_request_reviews") is not None and not listed(
            who, record["required_pull_request_reviews"].get("bypass_pull_request_allowances")
        ):
            message = "Changes must be made through a pull request."
        elif new is not None:
            message = await checks_refusal(repos, repo, classic_checks(record), new)
        if message:
            raise _answer(api, [message], ruleset=False)
    violations: list[str] = []
    for ruleset in rulesets_for(repo, ref):
        if bypass_mode(ruleset, who) in ("always", "exempt"):
            continue
        for rule in ruleset.get("rules", []):
            kind = rule.get("type")
            params = rule.get("parameters") or {}
            if kind == "creation" and old is None:
                violations.append("Cannot create ref due to creations being restricted.")
            elif kind == "update" and old is not None and new is not None:
                violations.append("Cannot update this protected ref.")
            elif kind == "deletion" and new is None:
                violations.append("Cannot delete this protected ref.")
            elif kind == "non_fast_forward" and forced:
                violations.append("Cannot force-push to this branch")
            elif kind == "pull_request" and old is not None and new is not None:
                violations.append("Changes must be made through a pull request.")
            elif kind == "required_status_checks" and new is not None:
                if old is None and params.get("do_not_enforce_on_create"):
                    continue
                message = await checks_refusal(repos, repo, ruleset_checks(rule), new)
                if message:
                    violations.append(message)
    if violations:
        raise _answer(api, list(dict.fromkeys(violations)), ruleset=True)


def _answer(api: str, messages: list[str], *, ruleset: bool) -> ApiError:
    if api == "contents":
        refused = Refused(409, messages, ruleset=ruleset)
        refused.message = f"Could not update file: {refused.message}"
        return refused
    if api == "release":
        text = Refused(422, messages, ruleset=ruleset).message
        return ApiError(
            422,
            "Validation Failed",
            [
                {"resource": "Release", "code": "custom", "field": "pre_receive", "message": f"pre_receive {text}"},
                {"resource": "Release", "code": "custom", "message": "Published releases must have a valid tag"},
            ],
        )
    return Refused(422, messages, ruleset=ruleset)


async def merge_blockers(
    repos: GitRepos, repo: dict[str, Any], pr: dict[str, Any], who: Pusher | None
) -> tuple[list[str], bool, bool]:
    """What stops this pull request's merge: (messages, whether a ruleset said so, whether it is only behind).

    who None asks for the merge state everyone sees (no one's exemptions or bypasses).
    """
    ref = f"refs/heads/{pr['base_ref']}"
    head, base = pr["head_sha"], pr["base_sha"]
    record = classic(repo, ref)
    if record is not None and not (who is not None and classic_exempt(record, who)):
        policy = record.get("required_status_checks") or {}
        required = classic_checks(record)
        behind = bool(policy.get("strict")) and required and not await repos.is_ancestor(repo["full_name"], base, head)
        message = await checks_refusal(repos, repo, required, head, strict_base=base if policy.get("strict") else None)
        if message:
            return [message], False, bool(behind)
        reviews = record.get("required_pull_request_reviews")
        if reviews is not None and int(reviews.get("required_approving_review_count") or 0) > 0:
            if who is None or not listed(who, reviews.get("bypass_pull_request_allowances")):
                return [review_count_message(int(reviews["required_approving_review_count"]))], False, False
        restrictions = record.get("restrictions")
        if who is not None and restrictions is not None and not listed(who, restrictions):
            return (
                [
                    "You're not authorized to push to this branch. Visit https://docs.github.com/articles/about-protected-branches/ for more information."
                ],
                False,
                False,
            )
    violations: list[str] = []
    behind = False
    for ruleset in rulesets_for(repo, ref):
        if who is not None and bypass_mode(ruleset, who) != "never":
            continue
        for rule in ruleset.get("rules", []):
            kind = rule.get("type")
            params = rule.get("parameters") or {}
            if kind == "update":
                violations.append("Cannot update this protected ref.")
            elif kind == "pull_request" and int(params.get("required_approving_review_count") or 0) > 0:
                violations.append(review_count_message(int(params["required_approving_review_count"])))
            elif kind == "required_status_checks":
                strict = bool(params.get("strict_required_status_checks_policy"))
                required = ruleset_checks(rule)
                if strict and required and not await repos.is_ancestor(repo["full_name"], base, head):
                    behind = True
                message = await checks_refusal(repos, repo, required, head, strict_base=base if strict else None)
                if message:
                    violations.append(message)
    if violations:
        return list(dict.fromkeys(violations)), True, behind and len(violations) == 1
    return [], False, False


async def guard_merge(request: web.Request, repo: dict[str, Any], pr: dict[str, Any]) -> None:
    """405, with GitHub's message, for a pull request merge that protection forbids this caller."""
    messages, ruleset, _ = await merge_blockers(git(request), repo, pr, pusher(request, repo))
    if messages:
        raise Refused(405, messages, ruleset=ruleset)


async def merge_state(repos: GitRepos, repo: dict[str, Any], pr: dict[str, Any]) -> str | None:
    """`blocked` or `behind` when protection stops the merge, else None (the test merge's state stands)."""
    messages, _, behind = await merge_blockers(repos, repo, pr, None)
    if not messages:
        return None
    return "behind" if behind else "blocked"
