"""Build the demo sandbox: bare git repositories with a realistic history, a thor.toml for them, a script.

Layout of a sandbox (names in ``thor_cli.demo``)::

    thor.toml                 the configuration: SQLite, file:// repositories, local notifier, no JIRA
    thor.db                   the SQLite database (created empty with the sandbox, as `thor db upgrade` does)
    remotes/uc-cdis/NAME.git  bare repositories standing in for GitHub
    scripts/load-tests.py     the command standing in for the Jenkins load tests
    slack-messages.log        what would have gone to Slack (written by the notifier)
    release-notes/            written by the release-notes step
    report/                   the release board, rewritten by each tick that changed something
    .thor-demo                marks the directory as a sandbox that ``thor demo --dir`` may rebuild

Each repository is written in one ``git fast-import`` run with fixed identities and dates, so its commit ids
are the same on every machine: a first commit, pull requests, the previous release (branch
``integration202108``, ``stable`` and the tag ``2021.08`` on one commit), then more pull requests. Pull
requests are merged the two ways GitHub does: a merge commit "Merge pull request #N from uc-cdis/BRANCH" with
the title in its body, or one squash commit "Title (#N)". No git configuration of the user is read.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from thor_cli import demo
from thor_cli.adapters import proc
from thor_cli.demo import DEVELOPERS, GITHUB, LOAD_TESTS_SCRIPT, ORG, PR, REPOS, Commit, RepoPlan
from thor_cli.errors import UsageError

_FIRST_DAY = datetime(2021, 7, 5, 14, 0, tzinfo=UTC)  # pull requests before the previous release
_PREVIOUS_RELEASE = datetime(2021, 8, 13, 16, 0, tzinfo=UTC)  # 2021.08's feature freeze
_STOP_WORDS = frozenset({"a", "an", "the", "in", "for", "of", "to", "with", "on", "same"})
_AFTER_DAY = datetime(2021, 8, 16, 14, 0, tzinfo=UTC)  # pull requests for 2021.09
# Variables that would point git or Thor somewhere else than the sandbox.
_OVERRIDES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "THOR_CONFIG",
    "THOR_DATABASE_URL",
    "THOR_NOW",
)


@dataclass(frozen=True)
class Sandbox:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / demo.CONFIG_NAME

    @property
    def database(self) -> Path:
        return self.root / demo.DATABASE_NAME

    @property
    def notes_file(self) -> Path:
        return self.root / demo.NOTES_DIR / f"{demo.VERSION}.md"

    def remote(self, name: str) -> Path:
        return self.root / demo.REMOTES_DIR / f"{name}.git"

    @property
    def repo_names(self) -> list[str]:
        return [f"{ORG}/{plan.name}" for plan in REPOS]


@contextmanager
def demo_environment() -> Iterator[None]:
    """While the demo runs: no user or system git configuration, and nothing pointing Thor elsewhere (a
    ``$THOR_DATABASE_URL`` would send the demo's writes to a real database). Restored afterwards."""
    saved = {name: os.environ.get(name) for name in (*_OVERRIDES, "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL")}
    for name in _OVERRIDES:
        os.environ.pop(name, None)
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
    os.environ["GIT_CONFIG_GLOBAL"] = os.devnull
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


LOCK_NAME = ".thor-demo.lock"


@contextmanager
def claimed(directory: Path) -> Iterator[Path]:
    """``directory``, absolute, emptied of a previous sandbox and locked for this demo until the block ends.

    A second ``thor demo --dir`` on the same directory is refused while the first runs (an ``flock`` on a
    lock file, released by the kernel even if the first is killed); a directory that cannot be written is
    one line, exit 2.
    """
    import fcntl

    root = directory.expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise UsageError(f"{directory} is not a directory")
    _refuse_foreign(root, directory)  # before the lock file: a directory that is not ours gets nothing written
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle = open(root / LOCK_NAME, "a+")  # noqa: SIM115  (held for the whole demo)
    except OSError as exc:
        raise UsageError(f"cannot build the demo sandbox in {directory}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            busy = f"{directory} is in use by another `thor demo`: wait for it or use another --dir"
            raise UsageError(busy) from None
        prepare(root, directory)
        yield root
    finally:
        handle.close()


def _refuse_foreign(root: Path, shown: Path) -> bool:
    """Refuse a directory holding something else than a sandbox; whether it holds a sandbox to rebuild."""
    others = [p for p in root.iterdir() if p.name != LOCK_NAME] if root.is_dir() else []
    if others and not (root / demo.MARKER).is_file():
        raise UsageError(f"{shown} is not empty and is not a thor demo sandbox: give a new or empty one")
    return bool(others)


def prepare(root: Path, given: Path | None = None) -> Path:
    """Check that ``root`` (absolute) may hold a sandbox and empty it of a previous one."""
    shown = given or root
    if _refuse_foreign(root, shown):
        try:
            remove_sandbox(root, keep_dir=True)
        except OSError as exc:
            raise UsageError(f"cannot rebuild the demo sandbox in {shown}: {exc.strerror or exc}") from None
    root.mkdir(parents=True, exist_ok=True)
    return root


def remove_sandbox(root: Path, *, keep_dir: bool = False) -> None:
    """Delete what a sandbox is made of (and nothing else); the directory too unless ``keep_dir``."""
    names = (demo.REMOTES_DIR, demo.SCRIPTS_DIR, demo.NOTES_DIR, demo.CONFIG_NAME, demo.MESSAGES_LOG)
    databases = [demo.DATABASE_NAME + suffix for suffix in ("", "-journal", "-wal", "-shm")]
    board = [demo.REPORT_DIR, *(p.name for p in root.glob(f".{demo.REPORT_DIR}.*"))]  # the link, its generations
    for name in (*names, *databases, *board, demo.MARKER):  # the marker last: a half-removed sandbox stays one
        path = root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    if not keep_dir:
        shutil.rmtree(root, ignore_errors=True)


def build(root: Path, standin_url: str | None = None) -> Sandbox:
    """Write a complete sandbox into the (empty) directory ``root`` (with environments, a GitOps repository
    and the stand-in at ``standin_url`` for GitHub and the registry, when given)."""
    sandbox = Sandbox(root)
    (root / demo.MARKER).write_text(
        "This directory is a `thor demo` sandbox: `thor demo --dir` with it deletes and rebuilds it.\n",
        encoding="utf-8",
    )
    for index, plan in enumerate(REPOS):
        make_remote(sandbox.remote(f"{ORG}/{plan.name}"), plan, index)
    scripts = root / demo.SCRIPTS_DIR
    scripts.mkdir()
    script = scripts / "load-tests.py"
    script.write_text(LOAD_TESTS_SCRIPT, encoding="utf-8")
    script.chmod(0o755)
    text = config_text(sandbox)
    if standin_url is not None:
        from thor_cli.demo.environments import GITOPS, config_block, make_gitops

        make_gitops(sandbox.remote(GITOPS))
        text += config_block(standin_url)
    sandbox.config.write_text(text, encoding="utf-8")
    # Commands that only read (a first `thor tick --dry-run`, `thor status`) never create the database.
    from thor_cli.store.db import open_store

    open_store(f"sqlite:///{sandbox.database}").dispose()
    return sandbox


def _toml(value: object) -> str:
    return json.dumps(value)  # a JSON string or list of strings is valid TOML


def config_text(sandbox: Sandbox) -> str:
    remotes = (sandbox.root / demo.REMOTES_DIR).as_uri()
    script = f"{demo.SCRIPTS_DIR}/load-tests.py"
    # The script's first line runs it with python3 from PATH; without one, with the Python running Thor.
    run = [script] if shutil.which("python3") else [sys.executable or "python3", script]
    return f"""\
# The `thor demo` sandbox: everything Thor touches is in this directory. Rebuild it with `thor demo --dir`.

[database]
# An SQLite file: no database server needed.
url = {_toml(f"sqlite:///{sandbox.database}")}

[schedule]
# Gen3's calendar, as built in: feature freeze on the second Friday of the month, code freeze on the fourth.
feature_freeze = "FREQ=MONTHLY;BYDAY=+2FR"
code_freeze = "FREQ=MONTHLY;BYDAY=+4FR"

[repos]
# Local bare repositories stand in for GitHub.
names = {_toml(sandbox.repo_names)}
url = {_toml(remotes + "/{repo}.git")}

[notify]
# Slack is replaced by local output: each message is appended to this file and printed on the terminal.
file = {_toml(demo.MESSAGES_LOG)}
echo = true

[notes]
dir = {_toml(demo.NOTES_DIR)}

[report]
# The release board: every tick that changes something rewrites it.
dir = {_toml(demo.REPORT_DIR)}

# There is no JIRA server in the demo, so the two JIRA steps are turned off (announce then follows
# merge-stable). With a real JIRA, delete these two tables and set [jira] url and project.
[steps.create-jira-release]
enabled = false

[steps.mark-released]
enabled = false

# A local script stands in for the Jenkins load-test job (a `command` step instead of `jenkins`).
[steps.load-tests]
uses = "command"
run = {_toml([*run, "{version}", "{integration_branch}"])}
timeout = "5m"
"""


def _git(*args: str | Path, input: str | None = None) -> None:
    env = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0"}
    proc.run(["git", *map(str, args)], env=env, input=input, timeout=60)


def make_remote(path: Path, plan: RepoPlan, index: int) -> None:
    """The bare repository ``path`` with ``plan``'s history; it serves partial and by-SHA fetches."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _git("init", "--quiet", "--bare", "--initial-branch=master", "--template=", path)
    _git("--git-dir", path, "config", "uploadpack.allowFilter", "true")
    _git("--git-dir", path, "config", "uploadpack.allowAnySHA1InWant", "true")
    _git("--git-dir", path, "fast-import", "--quiet", "--done", input=history_stream(plan, index))


class _Stream:
    """A ``git fast-import`` stream for one repository."""

    def __init__(self, index: int) -> None:
        self.parts: list[str] = []
        self.marks = 0
        self.index = index

    @staticmethod
    def _data(text: str) -> str:
        return f"data {len(text.encode())}\n{text}\n"

    def commit(
        self,
        message: str,
        when: datetime,
        files: dict[str, str],
        *,
        author: tuple[str, str],
        committer: tuple[str, str] | None = None,
        parent: int | None = None,
        merge: int | None = None,
        ref: str = "refs/heads/master",
    ) -> int:
        self.marks += 1
        stamp = f"{int(when.timestamp())} +0000"
        lines = [f"commit {ref}", f"mark :{self.marks}", f"author {author[0]} <{author[1]}> {stamp}"]
        who = committer or author
        lines.append(f"committer {who[0]} <{who[1]}> {stamp}")
        text = "\n".join(lines) + "\n" + self._data(message)
        text += f"from :{parent}\n" if parent else ""
        text += f"merge :{merge}\n" if merge else ""
        for name, content in files.items():
            text += f"M 100644 inline {name}\n" + self._data(content)
        self.parts.append(text + "\n")
        return self.marks

    def apply(self, item: PR | Commit, when: datetime, number: int, *, parent: int, ref: str) -> int:
        """Add ``item`` on top of ``parent`` in ``ref``; returns the new tip."""
        author = DEVELOPERS[(self.index + number) % len(DEVELOPERS)]
        if isinstance(item, Commit):
            return self.commit(item.message, when, {item.path: item.content}, author=author, parent=parent, ref=ref)
        files = {item.path: _content(item.path, item.title)}
        if item.squash:
            message = f"{item.title} (#{item.number})\n"
            return self.commit(message, when, files, author=author, committer=GITHUB, parent=parent, ref=ref)
        branch = f"{'fix' if item.title.startswith('Fix') else 'feat'}/{_slug(item.title)}"
        opened = when - timedelta(days=1)
        feature = self.commit(f"{item.title}\n", opened, files, author=author, parent=parent, ref=ref)
        message = f"Merge pull request #{item.number} from {ORG}/{branch}\n\n{item.title}\n"
        return self.commit(message, when, {}, author=author, committer=GITHUB, parent=parent, merge=feature, ref=ref)

    def reset(self, ref: str, mark: int) -> None:
        self.parts.append(f"reset {ref}\nfrom :{mark}\n\n")

    def tag(self, name: str, mark: int, message: str, when: datetime) -> None:
        who = DEVELOPERS[self.index % len(DEVELOPERS)]
        header = f"tag {name}\nfrom :{mark}\ntagger {who[0]} <{who[1]}> {int(when.timestamp())} +0000\n"
        self.parts.append(header + self._data(message))


def history_stream(plan: RepoPlan, index: int) -> str:
    stream = _Stream(index)
    shift = timedelta(hours=index)
    master, stable = "refs/heads/master", f"refs/heads/{demo.STABLE_BRANCH}"
    first = _FIRST_DAY - timedelta(days=30) + shift
    tip = stream.commit("Initial commit\n", first, plan.files, author=DEVELOPERS[index % len(DEVELOPERS)])
    for number, item in enumerate(plan.before):
        tip = stream.apply(item, _FIRST_DAY + timedelta(days=4 * number) + shift, number, parent=tip, ref=master)
    released = tip
    for number, item in enumerate(plan.after):
        tip = stream.apply(item, _AFTER_DAY + timedelta(days=3 * number) + shift, number, parent=tip, ref=master)
    stable_tip = released
    for number, item in enumerate(plan.hotfixes):
        when = _AFTER_DAY + timedelta(days=3 * number + 1) + shift
        stable_tip = stream.apply(item, when, number, parent=stable_tip, ref=stable)
    previous = demo.PREVIOUS_VERSION
    stream.reset(master, tip)
    stream.reset(f"refs/heads/integration{previous.replace('.', '')}", released)
    stream.reset(stable, stable_tip)
    stream.tag(previous, released, f"Gen3 Core Release {previous}\n", _PREVIOUS_RELEASE + timedelta(days=14))
    return "".join(stream.parts) + "done\n"


def _content(path: str, title: str) -> str:
    if path.endswith(".py"):
        return f'"""{title}."""\n'
    if path.endswith(".json"):
        return json.dumps({"change": title}, indent=2) + "\n"
    return f"{title}\n"


def _slug(title: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in title.lower()).split()
    return "-".join([w for w in words if w not in _STOP_WORDS][:4])
