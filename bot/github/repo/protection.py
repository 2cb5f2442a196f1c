"""What guards a repository's refs, as anyone who may read it sees it: rules in force, rulesets, a branch's protection summary.

Nothing here needs the administration permission: rule listings, rulesets (without their bypass
lists, which GitHub shows to those who may edit them) and the summary a branch read carries.
"""

from __future__ import annotations

import msgspec

from bot.github.repo.base import Record, RepoBase, or_none, read


class RequiredCheck(Record, frozen=True, kw_only=True):
    """A required status check: a context, pinned to an app when `integration_id` (rulesets) or `app_id` is set."""

    context: str
    integration_id: int | None = None
    app_id: int | None = None

    @property
    def app(self) -> int | None:
        # Classic protection says -1 for "any source"; rulesets leave the id out.
        pinned = self.integration_id if self.integration_id is not None else self.app_id
        return pinned if pinned is not None and pinned >= 0 else None


class RuleParameters(Record, frozen=True, kw_only=True):
    required_status_checks: tuple[RequiredCheck, ...] = ()


class RuleInForce(Record, frozen=True, kw_only=True):
    """One rule of a ruleset in force on a branch (GET .../rules/branches/{branch})."""

    type: str
    ruleset_id: int | None = None
    parameters: RuleParameters = msgspec.field(default_factory=RuleParameters)


class RefCondition(Record, frozen=True, kw_only=True):
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


class RulesetConditions(Record, frozen=True, kw_only=True):
    ref_name: RefCondition = msgspec.field(default_factory=RefCondition)


class RuleType(Record, frozen=True, kw_only=True):
    type: str


class Ruleset(Record, frozen=True, kw_only=True):
    id: int
    name: str = ""
    target: str = "branch"  # branch, tag (or push)
    enforcement: str = "disabled"  # disabled, active, evaluate
    current_user_can_bypass: str = "never"  # always, pull_requests_only, never, exempt: what this app may do
    conditions: RulesetConditions = msgspec.field(default_factory=RulesetConditions)
    rules: tuple[RuleType, ...] = ()


class StatusCheckSummary(Record, frozen=True, kw_only=True):
    enforcement_level: str = "off"
    checks: tuple[RequiredCheck, ...] = ()


class ProtectionSummary(Record, frozen=True, kw_only=True):
    enabled: bool = False
    required_status_checks: StatusCheckSummary = msgspec.field(default_factory=StatusCheckSummary)


class BranchGuard(Record, frozen=True, kw_only=True):
    """A branch's classic protection as its read shows it: `protected`, and the required checks."""

    protected: bool = False
    protection: ProtectionSummary = msgspec.field(default_factory=ProtectionSummary)


class Protection(RepoBase):
    async def rules_in_force(self, branch: str) -> tuple[RuleInForce, ...]:
        """Every rule of an active ruleset that applies to the branch (which need not exist)."""
        answer = await self.gh.getitem("/repos/{owner}/{repo}/rules/branches/{branch}", self._vars(branch=branch))
        return read(tuple[RuleInForce, ...], answer)

    async def rulesets(self) -> tuple[Ruleset, ...]:
        """The repository's rulesets (and those it inherits) as the listing shows them: no rules or conditions."""
        answer = await self.gh.getitem(
            "/repos/{owner}/{repo}/rulesets{?includes_parents,per_page}",
            self._vars(includes_parents="true", per_page=100),
        )
        return read(tuple[Ruleset, ...], answer)

    async def ruleset(self, ruleset_id: int) -> Ruleset | None:
        """One ruleset in full, with what this app may bypass of it; None when it is gone."""
        answer = await or_none(
            self.gh.getitem("/repos/{owner}/{repo}/rulesets/{ruleset_id}", self._vars(ruleset_id=ruleset_id))
        )
        return read(Ruleset, answer) if answer is not None else None

    async def branch_guard(self, branch: str) -> BranchGuard:
        """The classic protection summary of a branch (unprotected when the branch does not exist)."""
        answer = await or_none(self.gh.getitem("/repos/{owner}/{repo}/branches/{branch}", self._vars(branch=branch)))
        return read(BranchGuard, answer) if answer is not None else BranchGuard()
