"""``thor doctor``'s checks for environments: the GitHub token and API for the GitOps repositories, each
environment's repository and base branch, and each registry the release's images are in. Read-only."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from thor_cli.doctor import Check
    from thor_cli.runtime import Runtime


def environment_checks(rt: Runtime) -> list[Check]:
    from thor_cli.doctor import _guarded

    environments = rt.settings.config.environments
    if not environments:
        return []  # nothing to check: the environment steps skip themselves
    checks = [_guarded(f"github {repo}", lambda repo=repo: _github(rt, repo)) for repo in _repos(rt)]
    checks += [_guarded(f"env {name}", lambda name=name: _environment(rt, name)) for name in environments]
    from thor_cli.environments.services import release_components

    hosts = sorted({c.image.split("/", 1)[0] for c in release_components(rt.settings)})
    checks += [_guarded(f"registry {host}", lambda host=host: _registry(rt, host)) for host in hosts]
    return checks


def _repos(rt: Runtime) -> list[str]:
    return list(dict.fromkeys(env.repo for env in rt.settings.config.environments.values()))


def _github(rt: Runtime, repo: str) -> Check:
    from thor_cli.adapters.github_api import github_client, github_errors
    from thor_cli.doctor import _ok

    with github_client(rt.settings) as gh, github_errors(f"reading {repo}", rt.settings):
        found = gh.get_repo(repo)
        return _ok(f"github {repo}", f"readable; default branch {found.default_branch}")


def _environment(rt: Runtime, name: str) -> Check:
    from thor_cli.adapters.git import default_branch, remote_heads
    from thor_cli.doctor import Check, _ok

    env = rt.settings.config.environments[name]
    url = env.url or rt.settings.config.repos.url.replace("{repo}", env.repo)
    base = env.base_branch or default_branch(url)
    if base not in remote_heads(url, base):
        return Check(f"env {name}", "FAIL", f"{env.repo}: base branch {base} does not exist", "config")
    return _ok(f"env {name}", f"{env.repo}:{env.path} ({env.format}, stage {env.stage}), base {base}")


def _registry(rt: Runtime, host: str) -> Check:
    from thor_cli.adapters.registry import Registries
    from thor_cli.doctor import _ok

    client = Registries(rt.settings.config.services).client(host)
    return _ok(f"registry {host}", f"{client.base_url}: {client.ping()}")
