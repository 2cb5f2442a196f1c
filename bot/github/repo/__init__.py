"""The typed repository API: one object per job for (installation client, owner, repo), one area per module.

`RepoAPI` holds every REST path the handlers need and answers with small frozen records. An area
module (branches, pulls, issues, checks, git, releases, people, contents, protection) holds its records and its
calls; a new call goes in the area it belongs to, a new area in a module of its own, added below.
"""

from __future__ import annotations

from bot.github.repo.base import Label, Record, RepoBase, User, or_none, read
from bot.github.repo.branches import Activity, Branch, Branches, ChangedFile, Commit, Comparison, GitPerson
from bot.github.repo.checks import CheckOutput, CheckRun, Checks, CommitStatus, newest_by_name
from bot.github.repo.contents import ContentFile, Contents, Repository
from bot.github.repo.git import Git, GitCommit, GitObject, GitRef
from bot.github.repo.issues import Comment, Issue, IssueEvent, Issues, Milestone, Reaction
from bot.github.repo.people import People, Team
from bot.github.repo.protection import BranchGuard, Protection, RuleInForce, Ruleset
from bot.github.repo.pulls import PullEnd, PullRequest, Pulls
from bot.github.repo.releases import Deployment, Release, ReleaseNotes, Releases


class RepoAPI(Branches, Pulls, Issues, Checks, Git, Releases, People, Contents, Protection):
    """Everything the bot does to one repository, for one job."""


__all__ = [
    "Activity",
    "Branch",
    "BranchGuard",
    "ChangedFile",
    "CheckOutput",
    "CheckRun",
    "Comment",
    "Commit",
    "CommitStatus",
    "Comparison",
    "ContentFile",
    "Deployment",
    "GitCommit",
    "GitObject",
    "GitPerson",
    "GitRef",
    "Issue",
    "IssueEvent",
    "Label",
    "Milestone",
    "PullEnd",
    "PullRequest",
    "Reaction",
    "Record",
    "Release",
    "ReleaseNotes",
    "RepoAPI",
    "RepoBase",
    "Repository",
    "RuleInForce",
    "Ruleset",
    "Team",
    "User",
    "newest_by_name",
    "or_none",
    "read",
]
