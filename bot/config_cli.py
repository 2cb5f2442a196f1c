"""`release-train check-config [PATH]`: validate a configuration file locally, errors with their lines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from bot.config import CONFIG_PATH, RepoConfig, parse_config
from bot.roles import describe_role
from bot.rules.gate import unpinned_checks, unpinned_warning

EXIT_OK, EXIT_INVALID, EXIT_MISSING = 0, 1, 2


def summary(config: RepoConfig) -> str:
    """A few lines that show what the file means, so a typo that still parses is visible."""
    b, roles = config.branches, []
    for role, word in (("qa", "QA"), ("rte", "RTE"), ("pdm", "PdM")):
        roles.append(f"{word}: {describe_role(config, role).replace('`', '')}")
    checks = ", ".join(c.name + (f" (app {c.app})" if c.app else "") for c in config.gate.required_checks)
    lines = [
        f"  branches: devel {b.devel}, features {b.feature}, RCs {b.release_candidate}, "
        f"production {b.production or '(none)'}",
        f"  verified label: {config.labels.verified}; ready label: {config.labels.fr_ready}",
        f"  roles: {'; '.join(roles)}",
        f"  gate requires: {checks or '(nothing)'}",
    ]
    warning = unpinned_warning(unpinned_checks(config.gate.required_checks))
    if warning:
        lines.append(f"  warning: {warning.replace('`', '')}")
    return "\n".join(lines)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Findings go to stdout, as linters print them; a file that cannot be read is reported on stderr."""
    out = out or sys.stdout
    err = err or sys.stderr
    path = Path(getattr(args, "path", None) or CONFIG_PATH)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        print(f"{path}: no such file", file=err)
        return EXIT_MISSING
    except IsADirectoryError:
        print(f"{path}: is a directory, not a configuration file", file=err)
        return EXIT_MISSING
    except OSError as exc:
        print(f"{path}: cannot be read: {exc.strerror}", file=err)
        return EXIT_MISSING
    result = parse_config(raw)
    if not result.ok or result.config is None:
        for error in result.errors:
            print(f"{path}: {error}", file=out)
        count = len(result.errors)
        print(f"{path}: {count} error{'s' if count != 1 else ''}", file=out)
        return EXIT_INVALID
    print(f"{path}: ok", file=out)
    print(summary(result.config), file=out)
    return EXIT_OK
