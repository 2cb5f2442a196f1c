"""The sandbox's REST routes, one module per area of GitHub's API; each module has setup(app)."""
