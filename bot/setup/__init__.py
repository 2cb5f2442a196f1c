"""`release-train setup`: register the GitHub App in the browser through GitHub's manifest flow, and write .env."""
