"""Which service and image each repository of the release is, and the image references a release needs.

Gen3's names are built in (from gen3-release-utils and the gen3-gitops tooling): most repositories deploy as
a service of the same name with the image ``quay.io/cdis/<name>``; the exceptions are below. ``etl`` has two
images, one per repository (``etl.image.tube.tag`` and ``etl.image.spark.tag`` in Helm values, ``tube`` and
``spark`` in a manifest's ``versions``). ``[services.repos.NAME]`` overrides any of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from thor_cli.environments.config import ServiceMapping, ServicesConfig

if TYPE_CHECKING:
    from thor_cli.config import Settings

# repository short name -> (service, image name or None for the repository's name, slot or None)
BUILTIN: dict[str, tuple[str, str | None, str | None]] = {
    "data-portal": ("portal", None, None),
    "docker-nginx": ("revproxy", "nginx", None),
    "metadata-service": ("metadata", None, None),
    "workspace-token-service": ("wts", None, None),
    "tube": ("etl", "tube", "tube"),
    "gen3-spark": ("etl", "gen3-spark", "spark"),
    "indexs3client": ("ssjdispatcher", None, None),
    "gen3-statics": ("dashboard", None, None),
    "audit-service": ("audit", None, None),
    "pelican": ("pelican-export", "pelican-export", None),
    "gen3-fuse": ("gen3fuse-sidecar", "gen3fuse-sidecar", None),
    "cloud-automation": ("awshelper", "awshelper", None),
    "cdis-data-client": ("gen3-client", "gen3-client", None),
}


@dataclass(frozen=True)
class Component:
    """One image of one service, built from one repository."""

    repo: str  # as configured in [repos] ("uc-cdis/fence")
    service: str  # "fence", "portal", "etl"
    image: str  # "quay.io/cdis/fence" (no tag)
    slot: str | None = None  # "tube" / "spark": one of a service's several images

    @property
    def manifest_key(self) -> str:
        """The key of this image in a manifest's ``versions``."""
        return self.slot or self.service

    def ref(self, tag: str) -> str:
        return f"{self.image}:{tag}"


def short_name(repo: str) -> str:
    return repo.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")


def component_for(repo: str, config: ServicesConfig) -> Component | None:
    """The component of a repository, or None when it is not deployed (``enabled = false``)."""
    name = short_name(repo)
    override = config.repos.get(repo) or config.repos.get(name) or ServiceMapping()
    if not override.enabled:
        return None
    service, image_name, slot = BUILTIN.get(name, (name, None, None))
    image = override.image or f"{config.image_prefix}/{image_name or name}"
    return Component(repo=repo, service=override.service or service, image=image, slot=override.slot or slot)


def release_components(settings: Settings) -> list[Component]:
    """The components of every repository in the release, in ``[repos]`` order."""
    from thor_cli.repos import load_repos

    config = settings.config.services
    found = [component_for(repo.name, config) for repo in load_repos(settings)]
    return [c for c in found if c is not None]
