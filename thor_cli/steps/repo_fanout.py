"""Running one function over the release's repositories: in parallel, with a progress bar, recorded per repo.

The multi-repository steps (``git-branch``, ``git-merge``, ``delete-branch``, ``release-notes``) share this
loop, and the ``run()`` around it: ``run_repo_step`` loads the repositories, works on those not done yet and
turns the outcomes into the step's result (``summarise``). ``run_over_repos`` calls ``work(repo)`` for each
repository, ``[repos] concurrency`` at a time; an expected failure (a ``ThorError``) or a bug in one
repository becomes that repository's failed outcome and never stops the others. Each outcome is stored the
moment it is known (``ctx.record_repo``), so a crash loses nothing and a re-run can retry only what failed.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Literal

from thor_cli.errors import ThorError
from thor_cli.repos import Repo, load_repos
from thor_cli.steps.base import RepoRecord, StepContext, StepResult

RepoStatus = Literal["succeeded", "failed", "skipped", "pending"]
NO_REPOS = "no repositories configured: set [repos] names or file"
_REASON_CHARS = 240  # one repository's reason in a step's detail


@dataclass(frozen=True)
class RepoOutcome:
    """What happened in one repository. ``kind`` is the word the step's summary counts ("created")."""

    status: RepoStatus
    kind: str
    detail: str
    sha: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    extra: Any = None  # kept in memory for the step (a merge plan, a repository's notes), never stored

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    @classmethod
    def success(cls, kind: str, detail: str, *, sha: str | None = None, **kw: Any) -> RepoOutcome:
        return cls("succeeded", kind, detail, sha, **kw)

    @classmethod
    def failure(cls, detail: str, *, kind: str = "failed", sha: str | None = None, **kw: Any) -> RepoOutcome:
        return cls("failed", kind, detail, sha, **kw)

    def record(self, repo: str) -> RepoRecord:
        return RepoRecord(repo, self.status, self.sha, self.detail, dict(self.data))


def release_repos(ctx: StepContext) -> list[Repo]:
    """The repositories of ``[repos]`` (a ``ConfigError`` for a missing repos file). Also tells the git adapter
    which hosts ``THOR_GITHUB_TOKEN`` belongs to (``[github]``), before any git command runs."""
    from thor_cli.adapters.git_auth import configure

    configure(ctx.settings)
    return load_repos(ctx.settings)


def short(sha: str | None) -> str:
    """A commit as people quote it."""
    return sha[:7] if sha else "(none)"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def error_reason(exc: ThorError, repo: Repo) -> str:
    """An error's message without the repository label the git adapter puts first (the step names it)."""
    from thor_cli.adapters.git import repo_label

    message = exc.message
    for label in (repo.name, repo_label(repo.url)):
        message = message.removeprefix(f"{label}: ")
    return message


def cut_records(ctx: StepContext) -> dict[str, RepoRecord]:
    """What the pipeline's ``git-branch`` step(s) recorded per repository (the cut commit in ``data``)."""
    from thor_cli.pipeline import build_pipeline

    names = [s.name for s in build_pipeline(ctx.settings.config).steps if s.uses == "git-branch"]
    found: dict[str, RepoRecord] = {}
    for name in names or ["split-branch"]:
        for repo, record in ctx.repo_results(name).items():
            found.setdefault(repo, record)
    return found


def recorded_cut(record: RepoRecord | None) -> str | None:
    """The commit a repository's integration branch was cut at, if the cut succeeded."""
    if record is None or record.status != "succeeded":
        return None
    sha = record.data.get("cut_sha") or record.sha
    return str(sha) if sha else None


def to_retry(
    repos: Sequence[Repo], recorded: dict[str, RepoRecord], *, force: bool = False
) -> tuple[list[Repo], list[Repo]]:
    """(repos to work on, repos that succeeded on an earlier attempt). ``force`` works on all of them."""
    if force:
        return list(repos), []
    done = [r for r in repos if r.name in recorded and recorded[r.name].status == "succeeded"]
    names = {r.name for r in done}
    return [r for r in repos if r.name not in names], done


def run_over_repos(
    ctx: StepContext,
    repos: Sequence[Repo],
    work: Callable[[Repo], RepoOutcome],
    *,
    description: str,
    record: bool = True,
) -> dict[str, RepoOutcome]:
    """``work`` over ``repos`` in parallel; outcomes by repository name, in the order of ``repos``.

    Errors from recording (the lease was lost, the database went away) are not a repository's failure:
    they stop the loop and propagate once the running workers are done.
    """
    if not repos:
        return {}
    workers = max(1, min(ctx.settings.config.repos.concurrency, len(repos)))
    results: dict[str, RepoOutcome] = {}
    lock = threading.Lock()

    with ctx.progress(len(repos), description) as bar:

        def one(repo: Repo) -> None:
            try:
                outcome = work(repo)
            except ThorError as exc:
                outcome = RepoOutcome.failure(error_reason(exc, repo), kind="error")
            except Exception as exc:  # a bug in one repository's work must not lose the others
                outcome = RepoOutcome.failure(f"internal error: {type(exc).__name__}: {exc}", kind="error")
            if record:
                ctx.record_repo(outcome.record(repo.name))
            with lock:
                results[repo.name] = outcome
            bar.advance(repo.name)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="thor-repo") as pool:
            futures = [pool.submit(one, repo) for repo in repos]
            try:
                for future in as_completed(futures):
                    future.result()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    return {repo.name: results[repo.name] for repo in repos}


def failures(outcomes: dict[str, RepoOutcome]) -> dict[str, RepoOutcome]:
    """The outcomes that did not succeed, by repository name."""
    return {name: o for name, o in outcomes.items() if not o.ok}


def summarise(
    outcomes: dict[str, RepoOutcome],
    earlier: Sequence[Repo],
    total: int,
    headline: Callable[[int, str], str],
    labels: dict[str, str] | None = None,
) -> StepResult:
    """The step's result: failed naming what failed, else ok with ``headline(total, "28 created, ...")``;
    the output lists every repository either way."""
    output = report_lines(outcomes, (r.name for r in earlier))
    failed = failures(outcomes)
    if failed:
        return StepResult.fail(failure_summary(failed, total), output=output)
    return StepResult.ok(headline(total, done_summary(outcomes, earlier, labels)), output=output)


def run_repo_step(
    ctx: StepContext,
    work: Callable[[Repo], RepoOutcome],
    *,
    description: str,
    headline: Callable[[int, str], str],
    force: bool = False,
    recorded: dict[str, RepoRecord] | None = None,
    labels: dict[str, str] | None = None,
) -> StepResult:
    """The ``run()`` of a step that does one thing per repository: ``work`` over the repositories of
    ``[repos]`` that did not succeed on an earlier attempt (all of them when ``force``), in parallel, each
    recorded, then one result (``summarise``). ``recorded`` defaults to this step's records."""
    repos = release_repos(ctx)
    if not repos:
        return StepResult.fail(NO_REPOS)
    todo, earlier = to_retry(repos, ctx.repo_results() if recorded is None else recorded, force=force)
    outcomes = run_over_repos(ctx, todo, work, description=description)
    return summarise(outcomes, earlier, len(repos), headline, labels)


def count_kinds(outcomes: Iterable[RepoOutcome], labels: dict[str, str] | None = None) -> str:
    """ "28 created, 2 already there": how many of each kind, in the order first seen."""
    counts = Counter(o.kind for o in outcomes)
    return ", ".join(f"{n} {(labels or {}).get(kind, kind)}" for kind, n in counts.items())


def done_summary(
    outcomes: dict[str, RepoOutcome], earlier: Sequence[Repo], labels: dict[str, str] | None = None
) -> str:
    """ "28 created, 2 already there, 1 done on an earlier attempt"."""
    parts = [count_kinds(outcomes.values(), labels)]
    if earlier:
        parts.append(f"{len(earlier)} done on an earlier attempt")
    return ", ".join(p for p in parts if p)


_SUMMARY_CHARS = 300  # a step's failure summary stays one short line; every repository is in `thor log`


def failure_summary(failed: dict[str, RepoOutcome], total: int, what: str = "failed") -> str:
    """ "2 of 30 repos failed: uc-cdis/fence: conflict (...); uc-cdis/indexd: push rejected ...".

    Each cause once, and one short line: repositories that failed for the same reason (a rejected token, an
    unreachable host; the repository's own name aside) share one entry, "REASON (10 repos: a, b, c and 7
    more)", most common first, and past _SUMMARY_CHARS the rest is counted (`thor log` lists them all)."""
    by_reason: dict[str, list[str]] = {}
    for name, outcome in failed.items():
        by_reason.setdefault(_generic(name, outcome.detail), []).append(name)
    parts = [
        f"{names[0]}: {_clip(failed[names[0]].detail)}"
        if len(names) == 1
        else f"{reason} ({plural(len(names), 'repo')}: {_names(names)})"
        for reason, names in sorted(by_reason.items(), key=lambda item: -len(item[1]))
    ]
    head = f"{len(failed)} of {plural(total, 'repo')} {what}: "
    shown: list[str] = []
    for index, part in enumerate(parts):
        if shown and len(head) + len("; ".join([*shown, part])) > _SUMMARY_CHARS:
            shown.append(f"and {plural(len(parts) - index, 'other reason')} (`thor log` lists every repository)")
            break
        shown.append(part)
    return head + "; ".join(shown)


def _generic(name: str, detail: str) -> str:
    """``detail`` without the repository's own name, so that the same failure of many repositories is one."""
    short = name.rsplit("/", 1)[-1]
    text = " ".join(detail.split()).replace(name, "{repo}")
    return _clip(re.sub(rf"(?<![\w.-]){re.escape(short)}(?![\w-])", "{repo}", text))


def _names(names: list[str], shown: int = 3) -> str:
    if len(names) <= shown + 1:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"


def report_lines(outcomes: dict[str, RepoOutcome], earlier: Iterable[str] = ()) -> str:
    """One line per repository, for the step's output (``thor log``)."""
    lines = [f"{name}: {o.status}: {o.detail}" for name, o in outcomes.items()]
    lines += [f"{name}: succeeded on an earlier attempt" for name in earlier]
    return "\n".join(lines)


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _REASON_CHARS else flat[: _REASON_CHARS - 1] + "…"
