"""The one door to GitHub: authentication, the API client, and cherry-picking through the API."""
