"""The repository's `.github/release-train.yml`: schema (the dataclasses), reader (YAML to them), checks (value rules), patterns (globs, RE2)."""

from bot.config.patterns import fr_ticket, glob_regex, is_feature_branch
from bot.config.reader import MAX_CONFIG_BYTES, config_to_dict, parse_config
from bot.config.schema import (
    CONFIG_PATH,
    Branches,
    Checks,
    CherryPick,
    ConfigError,
    ConfigResult,
    Gate,
    Labels,
    MergeRules,
    Release,
    RepoConfig,
    RequiredCheck,
    Roles,
    WorkflowDispatch,
)

__all__ = [
    "CONFIG_PATH",
    "MAX_CONFIG_BYTES",
    "Branches",
    "Checks",
    "CherryPick",
    "ConfigError",
    "ConfigResult",
    "Gate",
    "Labels",
    "MergeRules",
    "Release",
    "RepoConfig",
    "RequiredCheck",
    "Roles",
    "WorkflowDispatch",
    "config_to_dict",
    "fr_ticket",
    "glob_regex",
    "is_feature_branch",
    "parse_config",
]
