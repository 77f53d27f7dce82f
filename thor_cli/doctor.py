"""``thor doctor``: is everything Thor needs reachable and valid? Reads only; changes nothing anywhere.

Checks the configuration (load and pipeline), the database (connection and schema revision), each
repository's remote, and Jenkins, JIRA and Slack when they are configured. Every detail is redacted.
Exit code: 2 when the configuration is wrong, else 3 when something is unreachable or refuses the
credentials, else 0.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from thor_cli.errors import ConfigError, ExitCode, ThorError, UsageError
from thor_cli.runtime import Runtime
from thor_cli.secrets import redact

Status = Literal["ok", "FAIL", "skipped"]
Problem = Literal["config", "unavailable"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    problem: Problem | None = None  # what kind of FAIL: decides the exit code


@dataclass(frozen=True)
class DoctorReport:
    checks: list[Check]

    @property
    def exit_code(self) -> ExitCode:
        problems = {c.problem for c in self.checks if c.status == "FAIL"}
        if "config" in problems:
            return ExitCode.BAD_INPUT
        if problems:
            return ExitCode.UNAVAILABLE
        return ExitCode.OK

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.exit_code == ExitCode.OK,
            "exit_code": int(self.exit_code),
            "checks": [asdict(c) for c in self.checks],
        }


def _ok(name: str, detail: str) -> Check:
    return Check(name, "ok", redact(detail))


def _skipped(name: str, detail: str) -> Check:
    return Check(name, "skipped", redact(detail))


def _guarded(name: str, probe: Callable[[], Check]) -> Check:
    """Run one probe; its failure becomes a FAIL row, never an exception."""
    try:
        return probe()
    except (ConfigError, UsageError) as exc:
        return Check(name, "FAIL", redact(exc.message), "config")
    except ThorError as exc:  # ServiceUnavailable, and GitError/StepError for a remote that will not answer
        return Check(name, "FAIL", redact(exc.message), "unavailable")
    except Exception as exc:  # a bug must not hide the other checks
        return Check(name, "FAIL", redact(f"internal error: {type(exc).__name__}: {exc}"), "unavailable")


def diagnose(config_path: str | Path | None = None, now: str | None = None) -> DoctorReport:
    try:
        rt = Runtime.create(config_path, now, writable=False)
        rt.validate()
    except ThorError as exc:
        return DoctorReport([Check("configuration", "FAIL", redact(exc.message), "config")])
    enabled = rt.pipeline.enabled
    source = str(rt.settings.path) if rt.settings.path else "built-in defaults (no thor.toml found)"
    checks = [_ok("configuration", f"{source}; pipeline of {len(enabled)} enabled steps")]
    checks.append(_guarded("database", lambda: _database(rt)))
    checks.extend(_repositories(rt))
    checks.append(_guarded("jenkins", lambda: _jenkins(rt)))
    checks.append(_guarded("jira", lambda: _jira(rt)))
    checks.append(_guarded("slack", lambda: _slack(rt)))
    from thor_cli.environments.checks import environment_checks

    checks.extend(environment_checks(rt))
    checks.extend(_github_checks(rt))
    return DoctorReport(checks)


def _github_checks(rt: Runtime) -> list[Check]:
    from thor_cli.doctor_github import github_checks

    return github_checks(rt)


def _unconfigured(rt: Runtime, name: str, what: str, *types: str) -> Check:
    """Not configured is fine, unless an enabled step needs it: then that step can only fail."""
    steps = [s.name for s in rt.pipeline.enabled if s.uses in types]
    if not steps:
        return _skipped(name, f"{what} not configured")
    return Check(
        name,
        "FAIL",
        f"{what} not configured, but needed by {', '.join(steps)} (configure it or disable those steps)",
        "config",
    )


def _database(rt: Runtime) -> Check:
    """Reachable, at this Thor's schema, and writable by the commands that write: all read-only."""
    from thor_cli.store.db import database_errors, probe_store, sqlite_path
    from thor_cli.store.schema import HEAD_REVISION, SchemaTooNew, check_not_newer, current_revision

    url = rt.settings.database_url
    path = sqlite_path(url)
    store = probe_store(url)
    if store is None:  # an SQLite file not created yet
        blocked = _not_writable(path) if path is not None else None
        if blocked:
            return Check("database", "FAIL", redact(f"{url}: cannot be created: {blocked}"), "unavailable")
        return _ok("database", f"{url}: not created yet (`thor db upgrade` or the first `thor tick` creates it)")
    try:
        with database_errors(), store.engine.connect() as connection:
            revision = current_revision(connection)
            unwritable = _pg_not_writable(connection) if store.dialect == "postgresql" else None
    finally:
        store.dispose()
    try:
        check_not_newer(revision)
    except SchemaTooNew as exc:
        return Check("database", "FAIL", redact(f"{url}: {exc.message}"), "unavailable")
    if path is not None:
        unwritable = _not_writable(path)
    if unwritable:
        return Check("database", "FAIL", redact(f"{url}: cannot be written: {unwritable}"), "unavailable")
    if revision == HEAD_REVISION:
        return _ok("database", f"{url}: {store.dialect}, schema revision {revision}")
    if revision is None:
        return _ok("database", f"{url}: {store.dialect}, empty (`thor db upgrade` creates the schema)")
    return Check(
        "database",
        "FAIL",
        redact(f"{url}: schema revision {revision}, this Thor expects {HEAD_REVISION}: run `thor db upgrade`"),
        "config",
    )


def _not_writable(path: Path) -> str | None:
    """Why SQLite could not write ``path`` (the file, or the directory its -wal and -shm files go in)."""
    import os

    if path.exists():
        if not os.access(path, os.W_OK):
            return f"{path} is read-only"
        directory = path.parent
    else:
        directory = next((p for p in path.parents if p.exists()), Path("/"))
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"directory {directory} is not writable"
    return None


def _pg_not_writable(connection) -> str | None:  # type: ignore[no-untyped-def]
    """What the signed-in role may not do: a standby, no CREATE on the schema, or no writes to a Thor table."""
    from sqlalchemy import text

    if connection.execute(text("SELECT pg_is_in_recovery()")).scalar():
        return "the server is a read-only standby"
    tables = [
        row[0]
        for row in connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'thor_%'")
        )
    ]
    if not tables:
        creates = connection.execute(text("SELECT has_schema_privilege(current_schema(), 'CREATE')")).scalar()
        return None if creates else "this role may not create tables in the schema"
    for table in sorted(tables):
        writes = connection.execute(
            text("SELECT has_table_privilege(:t, 'INSERT') AND has_table_privilege(:t, 'UPDATE')"), {"t": table}
        ).scalar()
        if not writes:
            return f"this role may not write to {table}"
    return None


def _repositories(rt: Runtime) -> list[Check]:
    from thor_cli.adapters.git_auth import configure
    from thor_cli.repos import Repo, load_repos

    configure(rt.settings)  # which hosts get THOR_GITHUB_TOKEN, as the steps do

    try:
        repos = load_repos(rt.settings)
    except ThorError as exc:
        return [Check("repositories", "FAIL", redact(exc.message), "config")]
    if not repos:
        return [
            _unconfigured(rt, "repositories", "[repos]", "git-branch", "git-merge", "release-notes", "delete-branch")
        ]

    def probe(repo: Repo) -> Check:
        return _guarded(f"repo {repo.name}", lambda: _remote(repo))

    workers = min(rt.settings.config.repos.concurrency, len(repos))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(probe, repos))


def _remote(repo) -> Check:  # type: ignore[no-untyped-def]
    from thor_cli.adapters.git import default_branch, remote_heads

    name = f"repo {repo.name}"
    if repo.source_branch is None:
        return _ok(name, f"reachable; default branch {default_branch(repo.url)}")
    heads = remote_heads(repo.url, repo.source_branch)
    if repo.source_branch not in heads:
        return Check(name, "FAIL", redact(f"reachable, but branch {repo.source_branch} does not exist"), "config")
    return _ok(name, f"reachable; {repo.source_branch} at {heads[repo.source_branch][:12]}")


def _jenkins(rt: Runtime) -> Check:
    from thor_cli.adapters.jenkins import JenkinsClient

    if not rt.settings.config.jenkins.url:
        return _unconfigured(rt, "jenkins", "[jenkins] url", "jenkins")
    client = JenkinsClient.from_settings(rt.settings)
    detail = f"Jenkins {client.version()} at {client.url}, credentials accepted"
    for step in rt.pipeline.enabled:
        job = getattr(step.options, "job", None)
        if step.uses != "jenkins" or not job or "{" in job:
            continue
        try:
            client.find_build(job, {}, limit=1)  # reads the job: 404 when it does not exist
        except ThorError as exc:
            return Check("jenkins", "FAIL", redact(f"{detail}; job {job} ({step.name}): {exc.message}"), "config")
        detail += f"; job {job} exists"
    return _ok("jenkins", detail)


def _jira(rt: Runtime) -> Check:
    from thor_cli.adapters.jira import JiraClient

    config = rt.settings.config.jira
    if not config.url:
        return _unconfigured(rt, "jira", "[jira] url", "jira-version", "jira-release")
    client = JiraClient.from_settings(rt.settings)
    info = client.server_info()
    versions = client.project_versions(str(config.project))
    server = f"JIRA {info.get('version', '?')} ({info.get('deploymentType', '?')}) at {client.url}"
    return _ok("jira", f"{server}; project {config.project} has {len(versions)} versions")


def _slack(rt: Runtime) -> Check:
    from thor_cli.adapters.slack import SlackClient

    channel = rt.settings.config.slack.channel
    if not channel:
        notify = rt.settings.config.notify
        if notify.file or notify.echo:
            return _skipped("slack", "[slack] channel not configured; messages go to [notify] instead")
        # Like Jenkins and JIRA: an enabled announce step with nowhere to announce to is a configuration problem.
        return _unconfigured(rt, "slack", "[slack] channel", "announce")
    client = SlackClient.from_settings(rt.settings)
    who = client.auth_test()
    from thor_cli.adapters.slack import SlackRefused

    try:
        channel_id = client.channel_id(channel)
    except SlackRefused as exc:  # a channel that does not exist (or the app cannot see) is a configuration error
        raise ConfigError(f"[slack] channel: {exc.message}") from None
    client.check_channel(channel_id)
    shown = channel if channel_id == channel else f"{channel} ({channel_id})"
    return _ok("slack", f"signed in as {who.get('user', '?')} ({who.get('team', '?')}); channel {shown} readable")
