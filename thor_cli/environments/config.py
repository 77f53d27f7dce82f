"""``[environments.NAME]`` and ``[services]`` in thor.toml (documented in docs/configuration.md).

Kept apart from ``thor_cli.config`` (which only mounts these models on ``ThorConfig``), with a base model
of its own so this module imports nothing of Thor's.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

_SLUG = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{6,}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvironmentConfig(_Section):
    """One environment (a commons) and where its deployment is described."""

    repo: str  # the GitOps repository on GitHub, "owner/name" (uc-cdis/gen3-gitops, uc-cdis/cdis-manifest)
    path: str  # its folder there: "qa" (helm-values) or "qa.planx-pla.net" (manifest-json)
    format: Literal["helm-values", "manifest-json"] = "helm-values"
    stage: str  # which rollout step moves it: ci, qa, staging, prod, ...
    owner: str | None = None  # who approves: a name, or a Slack user id (U0123ABCD)
    slack_user: str | None = None  # the owner's Slack user id, mentioned in the thread
    base_branch: str | None = None  # None: the repository's default branch
    labels: list[str] = Field(default_factory=lambda: ["gen3-release"])
    skip_services: list[str] = Field(default_factory=list)  # services this environment keeps where they are
    url: str | None = None  # where git pushes; None: [repos] url with {repo} = repo

    @field_validator("repo")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(f"repo {value!r} must be owner/name (like uc-cdis/gen3-gitops)")
        return value

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        clean = value.strip().strip("/")
        if not clean or ".." in clean.split("/"):
            raise ValueError(f"path {value!r} must be a folder inside the repository")
        return clean

    @field_validator("stage")
    @classmethod
    def _stage(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"stage {value!r} must be a plain word (ci, qa, staging, prod)")
        return value

    @model_validator(mode="after")
    def _slack_user_from_owner(self) -> EnvironmentConfig:
        if self.slack_user is None and self.owner and _SLACK_ID.match(self.owner):
            object.__setattr__(self, "slack_user", self.owner)
        if self.slack_user is not None and not _SLACK_ID.match(self.slack_user):
            raise ValueError(f"slack_user {self.slack_user!r} is not a Slack user id (like U0123ABCD)")
        return self


class ServiceMapping(_Section):
    """How one repository is deployed: the service it belongs to and its image."""

    service: str | None = None  # None: the built-in mapping, else the repository's short name
    image: str | None = None  # full image name without tag; None: built-in, else <image_prefix>/<name>
    slot: str | None = None  # the service has several images: this one is <service>.image.<slot>.tag
    enabled: bool = True  # false: the repository is not deployed (no image to check, nothing to roll out)


class RegistryConfig(_Section):
    """Where the images of one registry host are read (OCI Distribution API)."""

    url: str  # base URL; /v2/... is appended
    credentials: bool = False  # true: Basic credentials from $THOR_REGISTRY_USER / $THOR_REGISTRY_TOKEN
    timeout: float = Field(default=30, gt=0)


class ServicesConfig(_Section):
    image_prefix: str = "quay.io/cdis"
    repos: dict[str, ServiceMapping] = Field(default_factory=dict)  # keyed by short or full repository name
    registries: dict[str, RegistryConfig] = Field(default_factory=dict)  # keyed by host ("quay.io")

    @field_validator("image_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return value.rstrip("/")


# [environments.NAME]: the name goes into branch names and Slack messages, so it is a plain word.
EnvironmentName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
EnvironmentsTable = dict[EnvironmentName, EnvironmentConfig]
