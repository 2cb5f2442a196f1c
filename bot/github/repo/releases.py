"""Releases, deployments and workflow dispatches: what a promotion and a cut make."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgspec

from bot.github.repo.base import Record, RepoBase, or_none, read


class Release(Record, frozen=True, kw_only=True):
    id: int
    tag_name: str = ""
    name: str | None = None
    body: str | None = None
    html_url: str = ""
    draft: bool = False
    prerelease: bool = False


class ReleaseNotes(Record, frozen=True, kw_only=True):
    name: str = ""
    body: str = ""


class Deployment(Record, frozen=True, kw_only=True):
    id: int
    sha: str = ""
    ref: str = ""
    environment: str = ""
    description: str | None = None
    payload: dict[str, Any] | str = msgspec.field(default_factory=dict)  # GitHub keeps what it was given

    @property
    def payload_fields(self) -> dict[str, Any]:
        return self.payload if isinstance(self.payload, dict) else {}


class Releases(RepoBase):
    # -- releases --------------------------------------------------------------------------------
    async def release_by_tag(self, tag: str) -> Release | None:
        answer = await or_none(self.gh.getitem("/repos/{owner}/{repo}/releases/tags/{tag}", self._vars(tag=tag)))
        return read(Release, answer) if answer is not None else None

    async def generate_release_notes(self, tag: str, target: str, *, previous_tag: str | None = None) -> ReleaseNotes:
        request: dict[str, Any] = {"tag_name": tag, "target_commitish": target}
        if previous_tag:
            request["previous_tag_name"] = previous_tag
        answer = await self.gh.post("/repos/{owner}/{repo}/releases/generate-notes", self._vars(), data=request)
        return read(ReleaseNotes, answer)

    async def create_release(self, *, tag: str, target: str, name: str, body: str) -> Release:
        answer = await self.gh.post(
            "/repos/{owner}/{repo}/releases",
            self._vars(),
            data={"tag_name": tag, "target_commitish": target, "name": name, "body": body},
        )
        return read(Release, answer)

    # -- deployments -----------------------------------------------------------------------------
    async def deployments(self, *, sha: str | None = None, environment: str | None = None) -> AsyncIterator[Deployment]:
        async for deployment in self._iter(
            "/repos/{owner}/{repo}/deployments{?sha,environment,per_page}",
            Deployment,
            sha=sha,
            environment=environment,
            per_page=100,
        ):
            yield deployment

    async def create_deployment(
        self, *, ref: str, environment: str, payload: Mapping[str, Any], description: str
    ) -> Deployment:
        answer = await self.gh.post(
            "/repos/{owner}/{repo}/deployments",
            self._vars(),
            data={
                "ref": ref,
                "environment": environment,
                "payload": dict(payload),
                "description": description,
                "auto_merge": False,
                "required_contexts": [],
            },
        )
        return read(Deployment, answer)

    async def review_deployment_protection_rule(
        self, run_id: int, *, environment: str, approve: bool, comment: str
    ) -> None:
        """Answer a workflow run waiting on this app's custom deployment protection rule."""
        await self.gh.post(
            "/repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule",
            self._vars(run_id=run_id),
            data={"environment_name": environment, "state": "approved" if approve else "rejected", "comment": comment},
        )

    # -- workflows -------------------------------------------------------------------------------
    async def dispatch_workflow(self, workflow: str, *, ref: str, inputs: Mapping[str, str]) -> None:
        """Run a workflow_dispatch workflow (its file name or id) on a ref."""
        await self.gh.post(
            "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
            self._vars(workflow_id=workflow),
            data={"ref": ref, "inputs": dict(inputs)},
        )
