"""The git adapter: thin functions over ``git`` that return parsed objects. Import from here.

Remote operations never clone: they use ``ls-remote`` and a throw-away bare repository per operation that
fetches only what it needs and pushes by SHA with ``--force-with-lease``. See ``git_base`` for how
credentials reach git (``THOR_GITHUB_TOKEN``, never in a URL or an argument).
"""

from __future__ import annotations

from thor_cli.adapters.git_base import (
    GitError,
    default_branch,
    git_env,
    ls_remote,
    ls_remote_tags,
    remote_heads,
    repo_label,
    tag_sha,
)
from thor_cli.adapters.git_branch import CutResult, cut_branch, delete_branch
from thor_cli.adapters.git_log import (
    FALLBACK_LIMIT,
    Commit,
    CommitLog,
    PullRef,
    first_parent_log,
    parse_pull_requests,
)
from thor_cli.adapters.git_merge import MergePlan, MergeResult, merge_and_tag, plan_merge

__all__ = [
    "FALLBACK_LIMIT",
    "Commit",
    "CommitLog",
    "CutResult",
    "GitError",
    "MergePlan",
    "MergeResult",
    "PullRef",
    "cut_branch",
    "default_branch",
    "delete_branch",
    "first_parent_log",
    "git_env",
    "ls_remote",
    "ls_remote_tags",
    "merge_and_tag",
    "parse_pull_requests",
    "plan_merge",
    "remote_heads",
    "repo_label",
    "tag_sha",
]
