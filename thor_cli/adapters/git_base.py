"""The plumbing under the git adapter: environment, errors, ``ls-remote`` and scratch repositories.

Nothing here keeps a clone. Every operation that needs objects works in a throw-away bare repository
(``Scratch``) that fetches only what it needs (``--filter=blob:none``, shallow where the history is not
needed) and pushes by SHA with a lease. Every git process goes through ``thor_cli.adapters.proc.run``.

Credentials: with ``THOR_GITHUB_TOKEN`` set and an https URL of a host the token belongs to (``git_auth``),
the token travels as an ``http.extraHeader`` given through ``GIT_CONFIG_*`` environment variables, never in
a URL, an argument or a file; prompts are disabled so git fails instead of waiting for someone to type a
password. A failure says its real cause in one line (``git_auth.explain``).
"""

from __future__ import annotations

import atexit
import base64
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from thor_cli.adapters import proc
from thor_cli.adapters.git_auth import credential_for, explain
from thor_cli.errors import CommandError, StepError
from thor_cli.secrets import redact

GIT_TIMEOUT = 600.0  # seconds for one git process; a fetch of a large repository can be slow
TOKEN_ENV = "THOR_GITHUB_TOKEN"
IDENTITY_DEFAULTS = {
    "GIT_AUTHOR_NAME": "Thor",
    "GIT_AUTHOR_EMAIL": "thor@localhost",
    "GIT_COMMITTER_NAME": "Thor",
    "GIT_COMMITTER_EMAIL": "thor@localhost",
}
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_URL_PATH = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*(?P<path>/.*)?$")
_SCP_PATH = re.compile(r"^[^/:]+:(?P<path>.+)$")


class GitError(StepError):
    """A git operation failed. The message is one redacted line naming the repository, never its URL."""

    def __init__(self, message: str, *, output: str = "") -> None:
        super().__init__(redact(message))
        self.output = redact(output)


def is_sha(value: str | None) -> bool:
    return bool(value) and bool(_SHA.match(value or ""))


def short(sha: str | None) -> str:
    return sha[:12] if sha else "(none)"


def repo_label(url: str) -> str:
    """``org/name`` for a URL or path, without scheme, host or credentials: what error messages show."""
    text = url.strip().rstrip("/")
    match = _URL_PATH.match(text)
    if match:
        path = match["path"] or ""
    else:
        scp = _SCP_PATH.match(text)
        path = scp["path"] if scp and "\\" not in text else text
    parts = [p for p in path.removesuffix(".git").split("/") if p]
    return redact("/".join(parts[-2:])) or "repository"


def git_env(url: str | None = None) -> dict[str, str]:
    """Environment added to every git process (on top of Thor's own)."""
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",  # set but empty: git skips askpass helpers and, prompts being off, fails at once
        "SSH_ASKPASS": "",
        "GCM_INTERACTIVE": "never",
        "LC_ALL": "C",  # untranslated messages
    }
    if not (os.environ.get("GIT_SSH_COMMAND") or os.environ.get("GIT_SSH")):
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    for key, value in IDENTITY_DEFAULTS.items():
        if not os.environ.get(key):
            env[key] = value
    token = credential_for(url).token if url else None
    if token:
        try:
            index = int(os.environ.get("GIT_CONFIG_COUNT") or 0)
        except ValueError:
            index = 0
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env[f"GIT_CONFIG_KEY_{index}"] = "http.extraHeader"
        env[f"GIT_CONFIG_VALUE_{index}"] = f"Authorization: Basic {basic}"
        env["GIT_CONFIG_COUNT"] = str(index + 1)
    return env


def summarize(output: str, limit: int = 300) -> str:
    """The most telling line of git's output: a rejection, then ``fatal:``, then ``error:``, then the last."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for wanted in (("[remote rejected]", "[rejected]"), ("fatal:",), ("error:",)):
        for line in lines:
            if any(w in line for w in wanted):
                return line[:limit]
    return lines[-1][:limit] if lines else ""


def run_git(
    args: Sequence[str],
    *,
    url: str,
    what: str,
    check: bool = True,
    timeout: float | None = None,
    input: str | None = None,
    quick: bool = False,
) -> proc.ProcResult:
    """Run ``git ARGS``; a failure becomes a ``GitError`` "LABEL: WHAT failed: REASON". ``quick``: see
    ``proc.run``."""
    timeout = timeout or GIT_TIMEOUT
    try:
        env = git_env(url)
        return proc.run(
            ["git", *args], env=env, timeout=timeout, check=check, input=input, full_stdout=True, quick=quick
        )
    except CommandError as exc:
        if exc.returncode is None:
            reason = exc.message if exc.message.startswith("program not found") else f"timed out after {timeout:g}s"
        else:
            reason = explain(exc.output, url) or summarize(exc.output) or f"git exited {exc.returncode}"
        raise GitError(f"{repo_label(url)}: {what} failed: {reason}", output=exc.output) from None


def ls_remote(url: str, *patterns: str, symref: bool = False, tags: bool = False) -> tuple[dict, dict]:
    """``git ls-remote``: (refs {full name: sha}, symrefs {name: target})."""
    args = ["ls-remote", *(["--symref"] if symref else []), *(["--tags"] if tags else []), url, *patterns]
    result = run_git(args, url=url, what="ls-remote")
    refs: dict[str, str] = {}
    symrefs: dict[str, str] = {}
    for line in result.stdout.splitlines():
        left, _, name = line.partition("\t")
        if left.startswith("ref: "):
            symrefs[name] = left.removeprefix("ref: ")
        elif name:
            refs[name] = left
    return refs, symrefs


def head_ref(branch: str) -> str:
    return branch if branch.startswith("refs/") else f"refs/heads/{branch}"


def tag_ref(tag: str) -> str:
    return tag if tag.startswith("refs/tags/") else f"refs/tags/{tag}"


def peeled(refs: dict[str, str], ref: str) -> str | None:
    """The commit a ref points to: the ``^{}`` entry for an annotated tag, else the ref itself."""
    return refs.get(f"{ref}^{{}}") or refs.get(ref)


def remote_heads(url: str, *refs: str) -> dict[str, str]:
    """Branch SHAs on the remote, keyed as asked (``master`` or ``refs/heads/master``); absent ones left out.
    With no names: every branch, keyed by short name."""
    if not refs:
        found, _ = ls_remote(url, "refs/heads/*")
        return {name.removeprefix("refs/heads/"): sha for name, sha in found.items()}
    found, _ = ls_remote(url, *(head_ref(r) for r in refs))
    return {r: found[head_ref(r)] for r in refs if head_ref(r) in found}


def default_branch(url: str) -> str:
    """The branch the remote's HEAD points to."""
    _, symrefs = ls_remote(url, "HEAD", symref=True)
    target = symrefs.get("HEAD", "")
    if not target.startswith("refs/heads/"):
        raise GitError(f"{repo_label(url)}: cannot tell the default branch (the remote HEAD points nowhere)")
    return target.removeprefix("refs/heads/")


def ls_remote_tags(url: str, *tags: str) -> dict[str, str]:
    """Tag name -> peeled commit SHA, for the tags asked (absent ones left out), or every tag."""
    if tags:
        found, _ = ls_remote(url, *(p for t in tags for p in (tag_ref(t), f"{tag_ref(t)}^{{}}")))
    else:
        found, _ = ls_remote(url, tags=True)
    names = [tag_ref(t) for t in tags] or [n for n in found if not n.endswith("^{}")]
    return {n.removeprefix("refs/tags/"): peeled(found, n) for n in names if n in found}  # type: ignore[misc]


def tag_sha(url: str, tag: str) -> str | None:
    """The commit a remote tag points to (peeled), or None."""
    return ls_remote_tags(url, tag).get(tag.removeprefix("refs/tags/"))


@dataclass(frozen=True)
class PushOutcome:
    ok: bool
    summary: str  # "[new branch]", "[rejected] (stale info)", "[remote rejected] (pre-receive hook declined)"
    up_to_date: bool = False  # the remote ref was already at the pushed SHA: nothing changed


# No automatic housekeeping in a scratch repository, and a signing setup in the user's config (tag.gpgSign)
# must not make every release tag fail.
_SCRATCH_SETTINGS = ("gc.auto=0", "maintenance.auto=false", "tag.gpgSign=false", "commit.gpgSign=false")
_SCRATCH_CONFIG = tuple(arg for setting in _SCRATCH_SETTINGS for arg in ("-c", setting))


class Scratch:
    """A temporary bare repository whose ``origin`` is the remote (given as ``-c remote.origin.url``, which
    git passes on to the lazy fetches a partial repository makes)."""

    def __init__(self, url: str, path: Path) -> None:
        self.url = url
        self.path = path
        self.label = repo_label(url)

    def git(self, *args: str, what: str | None = None, check: bool = True, input: str | None = None):
        base = self._options("-c", f"remote.origin.url={self.url}")
        return run_git([*base, *args], url=self.url, what=what or args[0], check=check, input=input)

    def local(self, *args: str, what: str | None = None, check: bool = True, input: str | None = None):
        """``git ARGS`` that reads and writes this repository only (``merge-base``, ``log``, ``tag``,
        ``commit-tree``): no URL for origin and no transport allowed, so an object found missing fails the
        command at once instead of being fetched, and the command is ``quick`` (``proc.run``), started
        without the launcher."""
        base = self._options("-c", "protocol.allow=never")
        return run_git([*base, *args], url=self.url, what=what or args[0], check=check, input=input, quick=True)

    def _options(self, *first: str) -> list[str]:
        # core.hooksPath: ignore any hooks from the user's config.
        return ["--git-dir", str(self.path), *first, *_SCRATCH_CONFIG, "-c", f"core.hooksPath={self.path / 'hooks'}"]

    def fetch(self, *shas: str, filter: str | None = "blob:none", depth: int | None = None) -> None:
        args = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-auto-gc"]
        args += [f"--filter={filter}"] if filter else []
        args += [f"--depth={depth}"] if depth else []
        self.git(*args, "origin", *dict.fromkeys(shas), what="fetch")

    def has_commit(self, rev: str) -> str | None:
        result = self.git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        return result.stdout.strip() if result.returncode == 0 else None

    def merge_base(self, one: str, two: str) -> str | None:
        result = self.git("merge-base", one, two, check=False)
        if result.returncode not in (0, 1):
            raise GitError(f"{self.label}: merge-base failed: {summarize(result.output)}", output=result.output)
        return result.stdout.strip() or None

    def push(self, *updates: tuple[str, str], atomic: bool = False) -> dict[str, PushOutcome]:
        """Push ``(refspec, lease)`` pairs to origin, each with ``--force-with-lease=LEASE`` (``ref:`` means
        "must not exist"); all or none with ``atomic``. Returns the outcome per destination ref."""
        leases = [f"--force-with-lease={lease}" for _, lease in updates]
        args = ["push", "--porcelain", "--no-verify", *(["--atomic"] if atomic else []), *leases, "origin"]
        result = self.git(*args, *(spec for spec, _ in updates), check=False)
        if atomic and "does not support --atomic" in result.stderr:
            return self.push(*updates)
        remote = [ln.strip() for ln in result.stderr.splitlines() if ln.startswith("remote:")]
        outcomes = {}
        for line in result.stdout.splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and len(parts[0]) == 1:
                flag, summary = parts[0], parts[2]
                if flag == "!" and remote:
                    summary += f" ({remote[0]})"
                outcomes[parts[1].rpartition(":")[2]] = PushOutcome(flag != "!", summary, flag == "=")
        if not outcomes:
            reason = explain(result.output, self.url) or summarize(result.output)
            raise GitError(f"{self.label}: push failed: {reason}", output=result.output)
        return outcomes

    def push_one(self, refspec: str, *, lease: str) -> PushOutcome:
        outcomes = self.push((refspec, lease))
        return outcomes.get(refspec.rpartition(":")[2]) or next(iter(outcomes.values()))


@contextmanager
def scratch(url: str) -> Iterator[Scratch]:
    with tempfile.TemporaryDirectory(prefix="thor-git-") as tmp:
        repo = Scratch(url, Path(tmp) / "scratch.git")
        init_bare(repo.path, url)
        yield repo


def init_bare(path: Path, url: str) -> None:
    """An empty bare repository at ``path``, as ``git init --bare --template=`` makes it. git makes the first
    one of the process; the others are copies of it (two files and six folders), which spares a git process
    per repository and step: about 5 ms of CPU each, a tenth of what cutting a branch costs."""
    shutil.copytree(_empty_repository(url), path, symlinks=True)


_empty: list[Path] = []
_empty_lock = threading.Lock()


def _empty_repository(url: str) -> Path:
    with _empty_lock:
        if not _empty or not _empty[0].is_dir():
            root = Path(tempfile.mkdtemp(prefix="thor-git-empty-"))
            atexit.register(shutil.rmtree, root, ignore_errors=True)
            path = root / "empty.git"
            run_git(["--git-dir", str(path), "init", "--bare", "--quiet", "--template="], url=url, what="init")
            _empty[:] = [path]
        return _empty[0]
