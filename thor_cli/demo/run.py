"""Drive one release cycle in a demo sandbox through the real CLI (``thor_cli.cli.main``), narrating it.

Every stage is the command a person (or cron) would type, run in this process with ``--config`` pointing at
the sandbox and ``--now`` travelling to the day in question; what it prints is what the user sees.
"""

from __future__ import annotations

import contextlib
import io
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from thor_cli import demo
from thor_cli.cli import render
from thor_cli.demo.sandbox import Sandbox, build, claimed, demo_environment
from thor_cli.errors import ExitCode, ThorError, UsageError

if TYPE_CHECKING:
    from thor_cli.demo.environments import StandIn

RULE_WIDTH = 78
INTERRUPTED = 130  # what `thor` exits with on Ctrl-C (143 on SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a thor command of the demo, which already said "thor: interrupted"."""


@dataclass(frozen=True)
class Stage:
    title: str
    story: str
    commands: tuple[tuple[str, ...], ...]
    quiet: bool = False  # the stage's last command is expected to print nothing: say so when it does
    act: Callable[[StandIn], list[str]] | None = None  # what people do first (environment owners), narrated


STAGES = (
    Stage(
        "The calendar: Wed 2021-09-01",
        "Thor knows Gen3's release calendar: feature freeze on the second Friday of the month, code "
        "freeze on the fourth. Time travel (--now) takes us to a week before release 2021.09.",
        (("calendar", "--from", "2021-09", "--months", "1", "--now", demo.BEFORE),),
    ),
    Stage(
        "Feature freeze: Fri 2021-09-10",
        f"cron runs `thor tick` every morning. Today release {demo.VERSION} starts: cut "
        f"{demo.INTEGRATION_BRANCH} in every repository, run the load tests on it, write the release notes. "
        "Each line is a step changing state; 'slack>' lines are the messages Slack would get.",
        (("tick", "--now", demo.FEATURE_FREEZE),),
    ),
    Stage(
        "The CI environment: Fri 2021-09-10, 10:00",
        "Once CI had built the integration images, `check-images` passed and `rollout-ci` opened a pull "
        "request moving the CI environment to them. Its owner merges it; the next tick sees it.",
        (("tick", "--now", "2021-09-10T10:00"), ("envs",)),
        act=lambda standin: [standin.merge("ci")],
    ),
    Stage(
        "A day between: Fri 2021-09-17",
        "Nothing is due. `--dry-run` shows what waits for what; the tick itself prints nothing, so cron mails nothing.",
        (("tick", "--dry-run", "--now", demo.BETWEEN), ("tick", "--now", demo.BETWEEN)),
        quiet=True,
    ),
    Stage(
        "Code freeze: Fri 2021-09-24",
        f"Merge {demo.INTEGRATION_BRANCH} into {demo.STABLE_BRANCH} in every repository, tag {demo.VERSION}, "
        "announce the release.",
        (("tick", "--now", demo.CODE_FREEZE),),
    ),
    Stage(
        "Release day: Fri 2021-09-24, 14:00",
        "After the tag, `check-release-images` found the release images and `rollout` opened a pull request "
        "per environment on the GitOps repository. Their owners review them: qa merges, staging declines.",
        (("tick", "--now", "2021-09-24T14:00"), ("envs",)),
        act=lambda standin: [standin.merge("qa"), standin.decline("staging")],
    ),
)


def demo_main(directory: Path | None, *, setup_only: bool = False) -> int:
    """Build a sandbox (in ``directory``, else a temporary one deleted at the end) and run the cycle in it."""
    if setup_only and directory is None:
        raise UsageError("--setup-only needs --dir DIR (a throw-away sandbox would be deleted at once)")
    started = time.monotonic()
    out = _narrator()
    with demo_environment(), _sandbox_root(directory) as root:
        # Ctrl-C anywhere ends the demo at once (KeyboardInterrupt): the sandbox root is cleaned up on the
        # way out and `thor` exits 130; nothing more is run or shown.
        if setup_only:
            box = build(root)
            _introduce(out, box, keep=True, setup_only=True)
            _explore(out, box, setup_only=True)
            return 0
        from thor_cli.demo.environments import standin_running

        with standin_running() as standin:
            box = build(root, standin.url)
            _introduce(out, box, keep=directory is not None, setup_only=False)
            status = run_cycle(box, out, standin)
        _conclude(out, box, status, keep=directory is not None, seconds=time.monotonic() - started)
        return 0 if status == "released" else int(ExitCode.STEP_FAILED)


@contextlib.contextmanager
def _sandbox_root(directory: Path | None) -> Iterator[Path]:
    """The given directory, claimed (locked) for this demo; else a temporary one, deleted at the end."""
    if directory is not None:
        with claimed(directory) as root:
            yield root
        return
    root = Path(tempfile.mkdtemp(prefix="thor-demo-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_cycle(box: Sandbox, out: Console, standin: StandIn | None = None) -> str:
    """Run the stages, then show the status and the notes; returns the release's status at the end."""
    _run_stages(box, out, standin)
    _rule(out, f"Release {demo.VERSION}")
    thor(box, ("status", demo.VERSION))
    _rule(out, "The release notes")
    thor(box, ("notes", demo.VERSION))
    _rule(out, "The release board")
    out.print("The same state as a static site for project managers (each tick above kept it up to date):")
    thor(box, ("report", "--now", demo.CODE_FREEZE))
    return release_status(box)


def _run_stages(box: Sandbox, out: Console, standin: StandIn | None) -> None:
    for stage in STAGES:
        if stage.act is not None and standin is None:
            continue  # no environments in this sandbox
        _rule(out, stage.title)
        out.print(stage.story, markup=False)
        for line in stage.act(standin) if stage.act is not None and standin is not None else []:
            out.print(f"({line})", style="dim", markup=False, soft_wrap=True)
        for index, command in enumerate(stage.commands):
            capture = stage.quiet and index == len(stage.commands) - 1
            code, printed = thor(box, command, capture=capture)
            if capture:
                print(printed, end="", flush=True)
                if not printed.strip() and code == 0:
                    out.print("(nothing printed: nothing was due)", style="dim")
            if code != 0:
                out.print(f"thor exited {code}: skipping to the release's status", style="bold red")
                return


def thor(box: Sandbox, args: tuple[str, ...], *, capture: bool = False) -> tuple[int, str]:
    """Run one thor command in this process against the sandbox; (exit code, stdout when ``capture``)."""
    from thor_cli.cli import main

    render.console().print(f"$ thor {shlex.join(args)}", style="bold", markup=False, soft_wrap=True)
    argv = ["--config", str(box.config), *args]
    if not capture:
        code, printed = main(argv), ""
    else:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = main(argv)
        printed = buffer.getvalue()
    if code in (INTERRUPTED, 143):  # the command caught Ctrl-C (or SIGTERM) and said so: the demo stops too
        raise Interrupted
    return code, printed


def release_status(box: Sandbox) -> str:
    from thor_cli.runtime import Runtime
    from thor_cli.status import release_detail

    rt = Runtime.create(box.config, demo.CODE_FREEZE, quiet=True)
    try:
        return str(release_detail(rt, demo.VERSION)["status"])
    except ThorError:
        return "not started"
    finally:
        rt.close()


def _narrator() -> Console:
    return Console(highlight=False, width=min(render.console().width, 100))


def _rule(out: Console, title: str) -> None:
    out.print()
    out.print(f"── {title} " + "─" * max(3, RULE_WIDTH - len(title) - 4), style="bold cyan", markup=False)


def _introduce(out: Console, box: Sandbox, *, keep: bool, setup_only: bool) -> None:
    what = "a sandbox for" if setup_only else "a whole release cycle with time travel:"
    out.print(f"Thor demo: {what} release {demo.VERSION}, feature freeze to code freeze.", style="bold")
    fate = "kept" if keep else "deleted at the end; `thor demo --dir DIR` keeps it"
    out.print(f"Sandbox: {box.root} ({fate})", markup=False, soft_wrap=True)
    names = ", ".join(name.removeprefix("uc-cdis/") for name in box.repo_names)
    out.print(
        f"  {demo.REMOTES_DIR}/   {len(box.repo_names)} bare git repositories standing in for GitHub: "
        f"uc-cdis/{{{names}}}, with pull requests merged since release {demo.PREVIOUS_VERSION}",
        markup=False,
    )
    out.print(
        f"  {demo.CONFIG_NAME}  an SQLite database here; a script instead of the Jenkins load tests; "
        f"{demo.MESSAGES_LOG} instead of Slack; the JIRA steps off (no JIRA here)",
        markup=False,
    )
    if box.remote("uc-cdis/gen3-gitops").exists():
        out.print(
            "  environments ci, qa and staging in remotes/uc-cdis/gen3-gitops.git (Helm values); a local stand-in "
            "answers for GitHub's pull requests and the image registry while the demo runs",
            markup=False,
        )
    if not setup_only:
        shown = f"thor --config {_quote(box.config)} ..."
        out.print(f"Each command runs as `{shown}`.", markup=False, style="dim", soft_wrap=True)


def _conclude(out: Console, box: Sandbox, status: str, *, keep: bool, seconds: float) -> None:
    _rule(out, f"Done in {seconds:.1f} s")
    if status == "released":
        out.print(
            f"Release {demo.VERSION} is released: {demo.INTEGRATION_BRANCH} cut, load-tested, merged into "
            f"{demo.STABLE_BRANCH} and tagged {demo.VERSION} in {len(box.repo_names)} repositories.",
            markup=False,
        )
    else:
        out.print(
            f"Release {demo.VERSION} did not reach 'released' (it is {status}): see its status above.",
            style="bold red",
            markup=False,
        )
    if keep:
        _explore(out, box, setup_only=False)
    else:
        out.print(
            "The sandbox is deleted. To keep one and explore it: `thor demo --dir thor-demo` "
            "(docs/tutorial.md walks through it by hand).",
            markup=False,
        )


def _explore(out: Console, box: Sandbox, *, setup_only: bool) -> None:
    config = _quote(box.config)
    out.print(f"In {box.root}:", markup=False, soft_wrap=True)
    if not setup_only:
        out.print(f"  release notes    {box.notes_file.relative_to(box.root)}", markup=False)
        out.print(f"  Slack messages   {demo.MESSAGES_LOG}", markup=False)
    out.print(f"  repositories     {demo.REMOTES_DIR}/uc-cdis/*.git", markup=False)
    out.print(f"  configuration    {demo.CONFIG_NAME}", markup=False)
    if setup_only:
        commands = [
            "calendar --from 2021-09 --months 1",
            f"tick --now {demo.FEATURE_FREEZE} --dry-run",
            f"release start {demo.VERSION} --now {demo.FEATURE_FREEZE}",
            f"step split-branch {demo.VERSION} --now {demo.FEATURE_FREEZE}",
            f"status {demo.VERSION}",
            f"tick --now {demo.FEATURE_FREEZE}",
            f"tick --now {demo.CODE_FREEZE}",
            f"log {demo.VERSION}",
        ]
    else:
        commands = [f"status {demo.VERSION}", f"log {demo.VERSION} load-tests", f"notes {demo.VERSION}", "envs"]
    intro = "Run the cycle by hand (docs/tutorial.md)" if setup_only else "Explore by hand"
    out.print(f"{intro}, or `cd` there and leave out --config:", markup=False)
    for command in commands:
        out.print(f"  thor --config {config} {command}", markup=False, soft_wrap=True)
    remote = _quote(box.remote("uc-cdis/fence"))
    out.print(f"  git --git-dir {remote} log --oneline --graph --all", markup=False, soft_wrap=True)


def _quote(path: Path) -> str:
    return shlex.quote(str(path))
