"""The step registry: type name → the class that implements it, imported only when needed."""

from __future__ import annotations

from importlib import import_module

from thor_cli.steps.base import StepType

# Lazy so that `thor status` never imports a client library.
BUILTIN_STEP_TYPES: dict[str, str] = {
    "command": "thor_cli.steps.command:CommandStep",
    "gate": "thor_cli.steps.gate:GateStep",
    "git-branch": "thor_cli.steps.git_branch:SplitBranchStep",
    "git-merge": "thor_cli.steps.git_merge:MergeStableStep",
    "delete-branch": "thor_cli.steps.delete_branch:DeleteBranchStep",
    "release-notes": "thor_cli.steps.release_notes:ReleaseNotesStep",
    "jira-version": "thor_cli.steps.jira_version:CreateVersionStep",
    "jira-release": "thor_cli.steps.jira_version:MarkReleasedStep",
    "jenkins": "thor_cli.steps.jenkins_job:JenkinsJobStep",
    "announce": "thor_cli.steps.announce:AnnounceStep",
    "github-workflow": "thor_cli.steps.github_workflow:GitHubWorkflowStep",
    "publish-notes": "thor_cli.steps.publish_notes:PublishNotesStep",
    "image-check": "thor_cli.steps.image_check:ImageCheckStep",
    "rollout": "thor_cli.steps.rollout:RolloutStep",
}


def step_type_names() -> list[str]:
    return sorted(BUILTIN_STEP_TYPES)


def load_step_type(name: str) -> type[StepType]:
    """The class for a type name; KeyError for an unknown one."""
    target = BUILTIN_STEP_TYPES[name]
    module_name, _, attr = target.partition(":")
    return getattr(import_module(module_name), attr)
