"""Release Train: a GitHub App that runs a team's release train on GitHub."""

__version__ = "0.1.0"
