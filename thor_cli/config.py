"""Thor's configuration: ``thor.toml`` plus ``THOR_*`` environment, loaded and validated in one place.

Every key is documented in docs/configuration.md. Unknown keys and bad values are ``ConfigError``s that
name the key. Secrets never live here: adapters read them from the environment (see ``thor_cli.secrets``).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from thor_cli.durations import Duration, PositiveDuration
from thor_cli.environments.config import EnvironmentsTable, ServicesConfig
from thor_cli.errors import ConfigError
from thor_cli.report.config import ReportConfig

CONFIG_ENV = "THOR_CONFIG"
DATABASE_ENV = "THOR_DATABASE_URL"
DEFAULT_CONFIG_NAME = "thor.toml"
STEP_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
# The longest values the database columns hold (thor_cli/store/models.py): checked here, so a long name is a
# configuration error on every backend instead of a PostgreSQL error half-way through a tick.
MAX_STEP_NAME = 128
MAX_VERSION = 64
MAX_BRANCH = 255
MAX_CHANNEL = 128
# Seconds per HTTP request: a finite number, at most an hour (inf or 1e300 would overflow the socket timeout).
RequestTimeout = Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)]
# TOML strings are paths here: strict validation would refuse them.
PathValue = Annotated[Path, Field(strict=False)]
TEMPLATE_FIELDS = (
    "version",
    "codename",
    "integration_branch",
    "stable_branch",
    "feature_freeze",
    "code_freeze",
)


class Section(BaseModel):
    # strict: `concurrency = "8"` or `enabled = "no"` is a mistake to report, not a value to guess at.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _check_rrule(rule: str) -> str:
    from thor_cli.rrules import check_rrule

    return check_rrule(rule)


def _check_length(what: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise ValueError(f"{what} {value[:40]!r}... is {len(value)} characters long (at most {limit})")


def _repo_name(value: str) -> str:
    from thor_cli.repos import check_name

    return check_name(value)


# A repository name in [repos]: an error names the entry (repos.names.2, repos.overrides.NAME).
RepoName = Annotated[str, AfterValidator(_repo_name)]


def _branch(value: str) -> str:
    from thor_cli.repos import check_branch

    return check_branch(value)


BranchName = Annotated[str, Field(max_length=MAX_BRANCH), AfterValidator(_branch)]


class DatabaseConfig(Section):
    url: str | None = None


class ScheduleConfig(Section):
    timezone: str = "UTC"
    feature_freeze: str = "FREQ=MONTHLY;BYDAY=+2FR"
    code_freeze: str = "FREQ=MONTHLY;BYDAY=+4FR"
    version: str = "{feature_freeze:%Y.%m}"
    integration_branch: str = "integration{feature_freeze:%Y%m}"
    stable_branch: BranchName = "stable"
    codenames: PathValue | None = None
    start_grace_days: int = Field(default=3, ge=0, le=366)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (use an IANA name such as America/Chicago)") from None
        return value

    @field_validator("feature_freeze", "code_freeze")
    @classmethod
    def _valid_rrule(cls, value: str) -> str:
        return _check_rrule(value)

    @field_validator("version", "integration_branch")
    @classmethod
    def _valid_date_template(cls, value: str, info: ValidationInfo) -> str:
        from datetime import date

        try:
            from thor_cli.calendar import render_date_template  # {feature_freeze+1M:%Y.%m} month offsets

            rendered = render_date_template(value, date(2021, 9, 10))
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise ValueError(f"invalid template {value!r}: only {{feature_freeze}} may be used ({exc})") from None
        if not rendered or any(c.isspace() for c in rendered):
            raise ValueError(f"template {value!r} renders to {rendered!r}, which is empty or has spaces")
        limit = MAX_VERSION if info.field_name == "version" else MAX_BRANCH
        _check_length("the rendered template", rendered, limit)
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class RepoOverride(Section):
    url: str | None = None
    source_branch: BranchName | None = None
    stable_branch: BranchName | None = None
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        from thor_cli.repos import check_url

        return check_url(value) if value is not None else None


class ReposConfig(Section):
    names: list[RepoName] = Field(default_factory=list)
    file: PathValue | None = None
    url: str = "https://github.com/{repo}.git"
    source_branch: BranchName | None = None
    concurrency: int = Field(default=8, ge=1, le=64)
    overrides: dict[RepoName, RepoOverride] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url_has_repo(cls, value: str) -> str:
        from thor_cli.repos import check_url

        if "{repo}" not in value:
            raise ValueError("the url template must contain {repo}")
        return check_url(value)


class GithubConfig(Section):
    api_url: str = "https://api.github.com"
    timeout: RequestTimeout = 30
    token_hosts: list[str] = Field(default_factory=list)  # more hosts that get THOR_GITHUB_TOKEN (git)
    write_interval: float = Field(default=1.0, ge=0)  # seconds between writes (PyGithub; secondary rate limits)
    allow_http: bool = False  # the token over plain http, to a loopback test server only

    @model_validator(mode="after")
    def _token_transport(self) -> GithubConfig:
        from thor_cli.adapters.github import check_api_url

        check_api_url(self.api_url, allow_http=self.allow_http)
        return self


class JiraConfig(Section):
    url: str | None = None
    project: str | None = None
    description: str = "Gen3 Core Release {version}{codename_suffix}"
    create_tasks: bool = False
    subtask_type: str = "Sub-task"  # "Subtask" on Atlassian Cloud
    timeout: RequestTimeout = 30
    # The jira library sleeps 20-60 s between retries of a failed connection: keep a down JIRA quick to report.
    max_retries: int = Field(default=1, ge=0, le=10)


class JenkinsConfig(Section):
    url: str | None = None
    timeout: RequestTimeout = 30


class SlackConfig(Section):
    channel: str | None = Field(default=None, max_length=MAX_CHANNEL)
    base_url: str = "https://slack.com/api/"
    timeout: RequestTimeout = 30
    max_rate_limit_retries: int = Field(default=2, ge=0, le=10)


class NotifyConfig(Section):
    """A local stand-in for Slack: messages appended to a file and/or echoed to the terminal."""

    file: PathValue | None = None
    echo: bool = False


class NotesConfig(Section):
    dir: PathValue = Path("release-notes")


class HotfixConfig(Section):
    """``thor hotfix``: the tag each hotfix creates (``{n}`` counts the hotfixes of a release from 1)."""

    tag: str = "{version}.{n}"
    tag_message: str = "Gen3 {version} hotfix {n}"


class EngineConfig(Section):
    """How the engine holds a step while it runs (see docs/architecture.md, "Exactly once")."""

    # The holder renews its lease every third of this; a holder that died is taken over once it expires
    # (at once on the same host, where Thor can prove the holder is gone).
    lease: Duration = timedelta(minutes=10)

    @field_validator("lease")
    @classmethod
    def _lease_bounds(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= timedelta(days=1):
            raise ValueError("must be between 1s and 1d")
        return value


class StepConfig(BaseModel):
    """A ``[steps.NAME]`` table. Keys other than the common ones belong to the step type."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    uses: str | None = None
    on: Literal["feature_freeze", "code_freeze"] | None = None
    after: list[str] | None = None
    enabled: bool | None = None
    timeout: PositiveDuration | None = None
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    retry_after: Duration | None = None

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ThorConfig(Section):
    database: DatabaseConfig = DatabaseConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    repos: ReposConfig = ReposConfig()
    github: GithubConfig = GithubConfig()
    jira: JiraConfig = JiraConfig()
    jenkins: JenkinsConfig = JenkinsConfig()
    slack: SlackConfig = SlackConfig()
    notify: NotifyConfig = NotifyConfig()
    notes: NotesConfig = NotesConfig()
    hotfix: HotfixConfig = HotfixConfig()
    engine: EngineConfig = EngineConfig()
    report: ReportConfig = ReportConfig()
    steps: dict[str, StepConfig] = Field(default_factory=dict)
    environments: EnvironmentsTable = Field(default_factory=dict)  # see thor_cli/environments/
    services: ServicesConfig = ServicesConfig()

    @model_validator(mode="after")
    def _step_names(self) -> ThorConfig:
        for name in self.steps:
            if len(name) > MAX_STEP_NAME:
                raise ValueError(f"step name {name[:40]!r}... is {len(name)} characters long (at most {MAX_STEP_NAME})")
            if not STEP_NAME.match(name):
                raise ValueError(f"step name {name!r} must be kebab-case (like split-branch)")
        return self


@dataclass(frozen=True)
class Settings:
    """The validated configuration plus where it came from."""

    config: ThorConfig
    path: Path | None  # None: built-in defaults
    database_url: str

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def resolve(self, path: Path | str) -> Path:
        """Relative paths in thor.toml are relative to the file itself, not to where thor runs."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p


def default_database_url() -> str:
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{data_home / 'thor' / 'thor.db'}"


def find_config_path(explicit: str | Path | None) -> Path | None:
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"configuration file not found: {path}")
        return path
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        path = Path(from_env).expanduser()
        if not path.is_file():
            raise ConfigError(f"configuration file not found: {path} (from ${CONFIG_ENV})")
        return path
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    return local if local.is_file() else None


def parse_config(data: dict[str, Any], source: str = DEFAULT_CONFIG_NAME) -> ThorConfig:
    try:
        return ThorConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"unknown key {where!r}"
    if error["type"].endswith("_type"):  # strict types: say what was given, e.g. the string "8"
        message += f" (got {_short_repr(error.get('input'))})"
    return f"{where}: {message}" if where else message


def _short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_settings(explicit_path: str | Path | None = None) -> Settings:
    path = find_config_path(explicit_path)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from None
    config = parse_config(data, str(path) if path else DEFAULT_CONFIG_NAME)
    url = os.environ.get(DATABASE_ENV) or _relative_to(path, config.database.url) or default_database_url()
    return Settings(config=config, path=path, database_url=url)


def _relative_to(config_path: Path | None, url: str | None) -> str | None:
    """A relative SQLite path in thor.toml is relative to the file, like every other path there (cron runs in $HOME)."""
    prefix = "sqlite:///"
    if not url or not url.startswith(prefix) or config_path is None:
        return url
    path = Path(url[len(prefix) :])
    if path.is_absolute() or str(path) in ("", ":memory:"):
        return url
    return prefix + str(config_path.resolve().parent / path)
