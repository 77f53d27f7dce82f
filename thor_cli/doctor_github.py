"""``thor doctor`` for the GitHub steps (``github-workflow``, ``publish-notes``): a row only when one is enabled.

Read-only: ``GET /repos/{o}/{r}/actions/workflows/{workflow}`` for each workflow a step starts and
``GET /repos/{o}/{r}`` for each repository a step opens pull requests on, with ``THOR_GITHUB_TOKEN``.
A missing token or a workflow or repository GitHub does not know is a configuration problem (exit 2);
GitHub unreachable or refusing the token is exit 3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thor_cli.errors import ConfigError, ServiceUnavailable, ThorError

if TYPE_CHECKING:
    from thor_cli.doctor import Check
    from thor_cli.runtime import Runtime

STEP_TYPES = ("github-workflow", "publish-notes")


def github_checks(rt: Runtime) -> list[Check]:
    from thor_cli.doctor import Check, _ok

    steps = [s for s in rt.pipeline.enabled if s.uses in STEP_TYPES]
    if not steps:
        return []
    from thor_cli.adapters.github import TOKEN_ENV
    from thor_cli.secrets import secret

    names = ", ".join(s.name for s in steps)
    if not secret(TOKEN_ENV):
        return [Check("github", "FAIL", f"{TOKEN_ENV} is not set, but needed by {names}", "config")]
    try:
        seen = _probe(rt, steps)
    except ServiceUnavailable as exc:
        return [Check("github", "FAIL", exc.message, "unavailable")]
    except ThorError as exc:
        return [Check("github", "FAIL", exc.message, "config")]
    return [_ok("github", f"{rt.settings.config.github.api_url}: {', '.join(seen)} ({names})")]


def _probe(rt: Runtime, steps: list) -> list[str]:  # type: ignore[type-arg]
    from thor_cli.adapters.github_api import github_client, github_errors

    seen: list[str] = []
    with github_client(rt.settings) as gh:
        for step in steps:
            options = step.options
            if "{" in options.repo:
                continue  # depends on the release: checked when the step runs
            if step.uses == "github-workflow":
                what = f"{options.repo} {options.workflow}"
                with github_errors(f"reading workflow {what} ({step.name})", rt.settings):
                    state = gh.get_repo(options.repo).get_workflow(options.workflow).state
                if state != "active":
                    raise ConfigError(f"workflow {what} ({step.name}) is {state}, not active")
            else:
                what = options.repo
                with github_errors(f"reading repository {what} ({step.name})", rt.settings):
                    gh.get_repo(options.repo).default_branch  # noqa: B018  (a lazy object: this reads it)
            seen.append(what)
    return seen
