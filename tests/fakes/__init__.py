"""HTTP fakes of JIRA, Jenkins and Slack for tests (see tests/fakes/http.py)."""
