"""The git adapter against real bare repositories in temporary directories."""

from __future__ import annotations

import base64
import http.server
import os
import shutil
import socket
import ssl
import subprocess
import threading

import pytest

from tests.fakes import gitrepos as g
from tests.fakes.gitrepos import PR, Change, Tag
from thor_cli.adapters import git, proc
from thor_cli.adapters.git import GitError

TOKEN = "ghp_ThorTestTokenNeverShown0123456789"
RELEASE = "Gen3 Core Release 2021.09"


@pytest.fixture(autouse=True)
def git_home(tmp_path, monkeypatch):
    """Keep git away from the real home directory, system config and credentials."""
    for key, value in g.isolated_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    for key in ("THOR_GITHUB_TOKEN", "GIT_DIR", "GIT_WORK_TREE", "GIT_CONFIG_COUNT", "GIT_ASKPASS"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path / "home"


@pytest.fixture
def remote(tmp_path):
    return g.make_remote(tmp_path / "remotes", "fence")


@pytest.fixture
def url(remote):
    return g.file_url(remote)


def cut_integration(remote, url, name="integration202109"):
    git.cut_branch(url, name, "master")
    return g.heads(remote)[name]


# --- reading -------------------------------------------------------------------------------------------


def test_remote_heads_and_default_branch(tmp_path):
    remote = g.make_remote(tmp_path, "sheepdog", default_branch="main")
    url = g.file_url(remote)
    assert git.default_branch(url) == "main"
    assert git.remote_heads(url) == g.heads(remote)
    assert git.remote_heads(url, "main", "nope") == {"main": g.heads(remote)["main"]}
    assert git.remote_heads(url, "refs/heads/main") == {"refs/heads/main": g.heads(remote)["main"]}


def test_tags_are_peeled(remote, url):
    g.tag(remote, "2021.08", "master", message="Gen3 Core Release 2021.08")
    g.tag(remote, "light", "master")
    master = g.heads(remote)["master"]
    assert git.tag_sha(url, "2021.08") == master
    assert git.tag_sha(url, "missing") is None
    assert git.ls_remote_tags(url) == {"2021.08": master, "light": master}


def test_unreachable_remote_is_a_one_line_git_error(tmp_path):
    with pytest.raises(GitError) as info:
        git.remote_heads(g.file_url(tmp_path / "nowhere.git"))
    assert "nowhere: ls-remote failed:" in str(info.value)
    assert "\n" not in str(info.value)


# --- cutting -------------------------------------------------------------------------------------------


def test_cut_creates_branch_at_source_tip_then_rerun_is_a_no_op(remote, url):
    master = g.heads(remote)["master"]
    result = git.cut_branch(url, "integration202109", None)
    assert (result.status, result.sha, result.ok) == ("created", master, True)
    assert g.heads(remote)["integration202109"] == master

    again = git.cut_branch(url, "integration202109", "master")
    assert (again.status, again.sha) == ("exists", master)


def test_cut_from_named_source_branch(remote, url):
    develop = g.commit_on(remote, "develop", {"dev.txt": "x\n"}, "Develop work")
    assert git.cut_branch(url, "integration202109", "develop").sha == develop
    assert g.heads(remote)["integration202109"] == develop


def test_cut_missing_source_branch_fails(url):
    with pytest.raises(GitError, match="fence: source branch nope does not exist"):
        git.cut_branch(url, "integration202109", "nope")


def test_cut_when_branch_is_elsewhere_is_a_conflict_and_untouched_unless_forced(remote, url):
    old = g.heads(remote)["master"]
    g.set_ref(remote, "integration202109", old)
    new = g.commit_on(remote, "master", {"late.txt": "late\n"}, "Late change")

    result = git.cut_branch(url, "integration202109", "master")
    assert (result.status, result.sha, result.previous_sha, result.ok) == ("conflict", new, old, False)
    assert g.heads(remote)["integration202109"] == old

    forced = git.cut_branch(url, "integration202109", "master", force=True)
    assert (forced.status, forced.previous_sha) == ("moved", old)
    assert g.heads(remote)["integration202109"] == new


def test_an_integration_branch_that_moved_on_from_the_cut_is_never_rewound(remote, url):
    cut = git.cut_branch(url, "integration202109", "master").sha
    backport = g.commit_on(remote, "integration202109", {"fix.txt": "fix\n"}, "Backport a fix (#99)")
    before = g.all_refs(remote)

    for force in (False, True):
        result = git.cut_branch(url, "integration202109", "master", force=force, expected_sha=cut)
        assert (result.status, result.sha, result.previous_sha, result.ok) == ("advanced", cut, backport, True)
    assert g.all_refs(remote) == before  # the backport is still on the branch


def test_cut_push_rejected_raises_and_leaves_remote_alone(remote, url):
    before = g.all_refs(remote)
    g.reject_pushes(remote, "pushes are frozen")
    with pytest.raises(GitError) as info:
        git.cut_branch(url, "integration202109", "master")
    message = str(info.value)
    assert "fence: push of integration202109 rejected:" in message
    assert "pre-receive hook declined" in message and "pushes are frozen" in message
    assert g.all_refs(remote) == before

    g.allow_pushes(remote)
    assert git.cut_branch(url, "integration202109", "master").status == "created"


def test_cut_at_expected_sha_keeps_the_first_attempts_commit(remote, url):
    recorded = g.heads(remote)["master"]
    g.commit_on(remote, "master", {"later.txt": "x\n"}, "Merged after the first attempt")
    result = git.cut_branch(url, "integration202109", "master", expected_sha=recorded)
    assert (result.status, result.sha) == ("created", recorded)
    assert g.heads(remote)["integration202109"] == recorded
    assert git.cut_branch(url, "integration202109", "master", expected_sha=recorded).status == "exists"


def test_cut_at_unknown_expected_sha_fails(url):
    with pytest.raises(GitError, match="fence: fetch failed"):
        git.cut_branch(url, "integration202109", expected_sha="1" * 40)
    with pytest.raises(GitError, match="not a full commit id"):
        git.cut_branch(url, "integration202109", expected_sha="abc")


def test_delete_branch(remote, url):
    sha = cut_integration(remote, url)
    with pytest.raises(GitError, match="not deleted"):
        git.delete_branch(url, "integration202109", "0" * 40)
    assert git.delete_branch(url, "integration202109", sha) == "deleted"
    assert "integration202109" not in g.heads(remote)
    assert git.delete_branch(url, "integration202109") == "absent"


def test_scratch_repositories_are_copies_of_one_git_init(remote, url, tmp_path, monkeypatch):
    from tests.adapters.test_git_merge_transfer import Trace
    from thor_cli.adapters import git_base

    monkeypatch.setattr(git_base, "_empty", [])  # as in a new process: nothing made yet
    trace = tmp_path / "trace2"
    trace.mkdir()
    monkeypatch.setenv("GIT_TRACE2_EVENT", str(trace))
    for name in ("integration-a", "integration-b", "integration-c"):
        git.cut_branch(url, name, "master")
    assert [p.name for p in Trace(trace).processes()].count("init") == 1
    master = g.heads(remote)["master"]
    assert {n: g.heads(remote)[n] for n in ("integration-a", "integration-b", "integration-c")} == dict.fromkeys(
        ("integration-a", "integration-b", "integration-c"), master
    )
    with git_base.scratch(url) as repo:  # a copy is a repository git itself recognises, empty and bare
        assert repo.git("rev-parse", "--is-bare-repository").stdout.strip() == "true"
        assert repo.git("for-each-ref").stdout == ""


def test_a_local_git_command_fails_on_a_missing_object_instead_of_fetching_it(remote, url, tmp_path):
    from thor_cli.adapters.git_merge_scratch import new_scratch

    repo = new_scratch(url, tmp_path / "scratch.git")
    master = g.heads(remote)["master"]
    repo.fetch_objects(master, filter="tree:0", depth=1)  # the commit, not its tree
    tree = repo.local("log", "-1", "--format=%T", master).stdout.strip()
    missing = repo.local("cat-file", "-t", tree, check=False)
    assert missing.returncode != 0 and "not allowed" in missing.output, missing.output
    assert repo.git("cat-file", "-t", tree).stdout.strip() == "tree"  # git() fetches it from the promisor


# --- merging and tagging -------------------------------------------------------------------------------


def test_merge_fast_forward_then_idempotent(remote, url):
    g.set_ref(remote, "stable", g.heads(remote)["master"])
    g.commit_on(remote, "master", {"new.txt": "new\n"}, "New work")
    integration = cut_integration(remote, url)

    plan = git.plan_merge(url, "integration202109", "stable")
    assert plan.kind == "fast-forward" and plan.integration_sha == integration
    result = git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE)
    assert (result.status, result.stable_sha, result.tag_status, result.ok) == (
        "fast-forward",
        integration,
        "created",
        True,
    )
    assert g.heads(remote)["stable"] == integration
    assert g.tags(remote)["2021.09"] == integration
    assert g.git("-C", remote, "tag", "-l", "--format=%(contents:subject)", "2021.09") == RELEASE

    again = git.plan_merge(url, "integration202109", "stable")
    assert again.kind == "up-to-date"
    rerun = git.merge_and_tag(url, again, tag="2021.09", message=RELEASE)
    assert (rerun.status, rerun.tag_status, rerun.stable_sha) == ("up-to-date", "exists", integration)


def test_merge_with_merge_commit(remote, url):
    g.set_ref(remote, "stable", g.heads(remote)["master"])
    hotfix = g.commit_on(remote, "stable", {"service/app.py": "def create_app():\n    return {'x': 1}\n"}, "Hotfix")
    g.add_pr(remote, 10, "Add metrics", files={"service/metrics.py": "COUNT = 0\n"})
    integration = cut_integration(remote, url)

    plan = git.plan_merge(url, "integration202109", "stable")
    assert (plan.kind, plan.stable_sha, plan.integration_sha, plan.conflicts) == (
        "merge",
        hotfix,
        integration,
        [],
    )
    result = git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE)
    stable = g.heads(remote)["stable"]
    assert (result.status, result.stable_sha, result.tag_status) == ("merged", stable, "created")
    assert g.parents(remote, stable) == [hotfix, integration]
    assert g.message(remote, stable) == "Merge branch 'integration202109' into stable"
    assert g.git("-C", remote, "show", f"{stable}:service/metrics.py") == "COUNT = 0"
    assert g.tags(remote)["2021.09"] == stable

    again = git.plan_merge(url, "integration202109", "stable")
    assert again.kind == "up-to-date"
    assert git.merge_and_tag(url, again, tag="2021.09", message=RELEASE).tag_status == "exists"
    assert g.heads(remote)["stable"] == stable


def test_merge_creates_missing_stable(remote, url):
    integration = cut_integration(remote, url)
    plan = git.plan_merge(url, "integration202109", "stable")
    assert (plan.kind, plan.stable_sha) == ("create", None)
    result = git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE)
    assert (result.status, result.tag_status) == ("created", "created")
    assert g.heads(remote)["stable"] == integration


def test_plan_reports_missing_integration_branch(url):
    plan = git.plan_merge(url, "integration202109", "stable")
    assert plan.kind == "missing-branch"
    with pytest.raises(GitError, match="refusing to merge"):
        git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE)


def test_conflict_is_reported_with_paths_and_changes_nothing(remote, url):
    g.set_ref(remote, "stable", g.heads(remote)["master"])
    cut_integration(remote, url)
    g.make_conflict(remote, "stable", "integration202109", "service/app.py")
    before = g.all_refs(remote)

    plan = git.plan_merge(url, "integration202109", "stable")
    assert (plan.kind, plan.conflicts) == ("conflict", ["service/app.py"])
    assert "service/app.py" in plan.detail
    with pytest.raises(GitError, match="refusing to merge"):
        git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE)
    assert g.all_refs(remote) == before


def test_tag_already_on_the_release_commit_exists(remote, url):
    integration = cut_integration(remote, url)
    g.tag(remote, "2021.09", integration, message=RELEASE)
    plan = git.plan_merge(url, "integration202109", "stable")
    result = git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE)
    assert (result.status, result.tag_status, result.ok) == ("created", "exists", True)


@pytest.mark.parametrize("tag_in_plan", [None, "2021.09"])
def test_tag_on_another_commit_is_a_conflict_and_stable_is_untouched(remote, url, tag_in_plan):
    first = g.heads(remote)["master"]
    g.set_ref(remote, "stable", first)
    g.tag(remote, "2021.09", first, message="made by hand")
    g.add_pr(remote, 11, "Another feature")
    cut_integration(remote, url)
    before = g.all_refs(remote)

    plan = git.plan_merge(url, "integration202109", "stable", tag=tag_in_plan)
    assert plan.kind == "fast-forward"
    assert plan.tag_sha == (first if tag_in_plan else None)  # seen by the plan's look, or looked at later
    result = git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE)
    assert (result.status, result.tag_status, result.ok, result.stable_sha) == (
        "skipped",
        "conflict",
        False,
        first,
    )
    assert "2021.09" in result.detail
    assert g.all_refs(remote) == before


@pytest.mark.parametrize("tag_in_plan", [None, "2021.09"])
def test_merge_refuses_when_stable_moved_since_the_plan(remote, url, tag_in_plan):
    # Without the tag in the plan the merge looks again and refuses before pushing; with it (what the step
    # does) there is no second look, and the atomic push's lease on stable refuses it.
    g.set_ref(remote, "stable", g.heads(remote)["master"])
    g.add_pr(remote, 12, "Feature")
    cut_integration(remote, url)
    plan = git.plan_merge(url, "integration202109", "stable", tag=tag_in_plan)
    g.commit_on(remote, "stable", {"hot.txt": "fix\n"}, "Hotfix after the plan")
    before = g.all_refs(remote)
    with pytest.raises(GitError, match=r"stable moved from .* since the merge was planned; plan again"):
        git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE)
    assert g.all_refs(remote) == before


def test_after_a_plan_that_read_the_tag_a_tag_made_meanwhile_leaves_stable_alone(remote, url):
    first = g.heads(remote)["master"]
    g.set_ref(remote, "stable", first)
    g.add_pr(remote, 15, "Feature")
    cut_integration(remote, url)
    plan = git.plan_merge(url, "integration202109", "stable", tag="2021.09")
    assert plan.tag_sha is None
    g.tag(remote, "2021.09", first, message="made by someone else")  # after the only look
    result = git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE)
    assert (result.status, result.tag_status, result.ok) == ("skipped", "conflict", False)
    assert g.heads(remote)["stable"] == first
    assert g.tags(remote)["2021.09"] == first


# --- release notes -------------------------------------------------------------------------------------


def test_first_parent_log_between_previous_tag_and_cut(tmp_path):
    history = [
        *g.DEFAULT_HISTORY,
        Tag("2021.08", "Gen3 Core Release 2021.08"),
        PR(21, "Add audit log", branch="feat/audit"),
        Change("Bump dependencies", {"requirements.txt": "requests==2.26\n"}),
        PR(22, "Fix pagination (take two)", squash=True),
        PR(23, "Speed up indexing"),
    ]
    remote = g.make_remote(tmp_path, "indexd", history=history)
    url = g.file_url(remote)
    until = cut_integration(remote, url)

    log = git.first_parent_log(url, "2021.08", until)
    assert log.complete and log.since_sha == g.tags(remote)["2021.08"]
    assert [c.subject for c in log] == [
        "Merge pull request #23 from uc-cdis/feature/speed-up-indexing",
        "Fix pagination (take two) (#22)",
        "Bump dependencies",
        "Merge pull request #21 from uc-cdis/feat/audit",
    ]
    prs = git.parse_pull_requests(log)
    assert [(p.number, p.title) for p in prs] == [
        (23, "Speed up indexing"),
        (22, "Fix pagination (take two)"),
        (21, "Add audit log"),
    ]
    assert prs[0].sha == until

    by_sha = git.first_parent_log(url, log.since_sha, until)
    assert by_sha == log and by_sha.complete
    assert git.first_parent_log(url, log.since_sha[:10], until) == log

    missing = git.first_parent_log(url, "2021.07", until, limit=3)
    assert not missing.complete and len(missing) == 3
    assert "2021.07 was not found" in (missing.note or "")
    assert not git.first_parent_log(url, "f" * 40, until).complete
    assert len(git.first_parent_log(url, None, until)) == 8


def test_first_parent_log_since_a_commit_on_another_branch(remote, url):
    g.set_ref(remote, "stable", g.heads(remote)["master"])
    g.add_pr(remote, 30, "Before the hotfix")
    hotfix = g.commit_on(remote, "stable", {"hot.txt": "fix\n"}, "Hotfix on stable")
    g.add_pr(remote, 31, "After the hotfix", squash=True)
    until = cut_integration(remote, url)

    log = git.first_parent_log(url, hotfix, until)
    expected = g.git("-C", remote, "log", "--first-parent", "--format=%s", f"{hotfix}..{until}").splitlines()
    assert log.complete and [c.subject for c in log] == expected == [
        "After the hotfix (#31)",
        "Merge pull request #30 from uc-cdis/feature/before-the-hotfix",
    ]


def test_parse_pull_requests_ignores_other_subjects():
    commits = [
        git.Commit("a" * 40, "Merge pull request #5 from org/x", ""),
        git.Commit("b" * 40, "Revert something", ""),
        git.Commit("c" * 40, "Merge branch 'master' into feature", ""),
        git.Commit("d" * 40, "Title (#5)", ""),
    ]
    assert git.parse_pull_requests(commits) == [git.PullRef(5, "org/x", "a" * 40)]


# --- credentials -----------------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_token_goes_only_into_git_config_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("THOR_GITHUB_TOKEN", TOKEN)
    env = git.git_env("https://github.com/uc-cdis/fence.git")
    assert env["GIT_TERMINAL_PROMPT"] == "0" and env["GIT_ASKPASS"] == ""
    header = env[f"GIT_CONFIG_VALUE_{int(env['GIT_CONFIG_COUNT']) - 1}"]
    assert header == "Authorization: Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    argv = ["git", "config", "--get-all", "http.extraHeader"]
    seen = subprocess.run(argv, cwd=tmp_path, env={**os.environ, **env}, capture_output=True, text=True)
    assert seen.stdout.strip() == header  # git itself picks the header up from the environment
    assert "GIT_CONFIG_COUNT" not in git.git_env("file:///srv/fence.git")
    assert "GIT_CONFIG_COUNT" not in git.git_env("git@github.com:uc-cdis/fence.git")


def test_token_never_visible_in_argv_output_or_errors(monkeypatch):
    monkeypatch.setenv("THOR_GITHUB_TOKEN", TOKEN)
    calls = []
    real_run = proc.run

    def spy(argv, **kw):
        calls.append(list(argv))
        return real_run(argv, **kw)

    monkeypatch.setattr(proc, "run", spy)
    url = f"https://127.0.0.1:{closed_port()}/uc-cdis/fence.git"
    for action in (
        lambda: git.remote_heads(url, "master"),
        lambda: git.cut_branch(url, "integration202109", None),
        lambda: git.plan_merge(url, "integration202109", "stable"),
    ):
        with pytest.raises(GitError) as info:
            action()
        error = info.value
        assert TOKEN not in str(error) and TOKEN not in error.output
        assert str(error).startswith("uc-cdis/fence: ls-remote failed:")
    assert calls and all(TOKEN not in " ".join(argv) for argv in calls)
    encoded = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert all(encoded not in " ".join(argv) for argv in calls)


def test_credentials_in_url_are_redacted(monkeypatch):
    url = f"https://someone:s3cr3t-passw0rd@127.0.0.1:{closed_port()}/uc-cdis/fence.git"
    with pytest.raises(GitError) as info:
        git.default_branch(url)
    assert "s3cr3t-passw0rd" not in str(info.value) and "s3cr3t-passw0rd" not in info.value.output
    assert str(info.value).startswith("uc-cdis/fence: ")


@pytest.fixture
def https_server(tmp_path):
    """An HTTPS server on 127.0.0.1 that answers 401 to everything and records the Authorization headers."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )  # fmt: skip
    seen: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers.get("Authorization"))
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="GitHub"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert, seen
    server.shutdown()
    server.server_close()


def test_token_is_sent_as_a_header_and_a_refusal_never_prompts(https_server, monkeypatch):
    base, cert, seen = https_server
    monkeypatch.setenv("GIT_SSL_CAINFO", str(cert))
    monkeypatch.setenv("THOR_GITHUB_TOKEN", TOKEN)
    monkeypatch.setattr("thor_cli.adapters.git_base.GIT_TIMEOUT", 30.0)  # a prompt would hang until this
    from thor_cli.adapters import git_auth
    from thor_cli.config import Settings, parse_config

    # 127.0.0.1 is no GitHub host: the token goes to it only when [github] token_hosts names it.
    git_auth.configure(Settings(parse_config({"github": {"token_hosts": ["127.0.0.1"]}}), None, "sqlite://"))
    try:
        with pytest.raises(GitError) as info:
            git.remote_heads(f"{base}/uc-cdis/fence.git", "master")
    finally:
        git_auth.configure(Settings(parse_config({}), None, "sqlite://"))
    assert seen and seen[0] == "Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert str(info.value).endswith(f"authentication failed for {base} (THOR_GITHUB_TOKEN rejected)")
    assert TOKEN not in str(info.value) + info.value.output


# --- concurrent changes ----------------------------------------------------------------------------------


def hide_ref_once(monkeypatch, ref):
    """Make the adapter's first look miss ``ref``, as if another process created it just after we looked."""
    from thor_cli.adapters import git_branch

    real = git_branch.ls_remote
    calls = []

    def stale(url, *patterns, **kw):
        refs, symrefs = real(url, *patterns, **kw)
        calls.append(patterns)
        if len(calls) == 1:
            refs.pop(ref, None)
        return refs, symrefs

    monkeypatch.setattr(git_branch, "ls_remote", stale)


def test_concurrent_creator_at_our_sha_makes_the_cut_exist(remote, url, monkeypatch):
    master = cut_integration(remote, url)
    hide_ref_once(monkeypatch, "refs/heads/integration202109")
    result = git.cut_branch(url, "integration202109", "master")
    assert (result.status, result.sha) == ("exists", master)


def test_concurrent_creator_elsewhere_makes_the_cut_a_conflict(remote, url, monkeypatch):
    old = g.heads(remote)["master"]
    g.set_ref(remote, "integration202109", old)
    new = g.commit_on(remote, "master", {"late.txt": "x\n"}, "Late")
    hide_ref_once(monkeypatch, "refs/heads/integration202109")
    result = git.cut_branch(url, "integration202109", "master")
    assert (result.status, result.sha, result.previous_sha) == ("conflict", new, old)
    assert g.heads(remote)["integration202109"] == old


def test_tag_appearing_during_the_merge_leaves_stable_alone(remote, url, monkeypatch):
    """Stable and the tag go in one atomic push: a tag created elsewhere meanwhile stops both."""
    from thor_cli.adapters import git_merge

    first = g.heads(remote)["master"]
    g.set_ref(remote, "stable", first)
    g.add_pr(remote, 13, "Feature")
    cut_integration(remote, url)
    plan = git.plan_merge(url, "integration202109", "stable")
    real = git_merge.ls_remote

    def racing(url_, *patterns, **kw):
        found = real(url_, *patterns, **kw)
        if "2021.09" not in g.tags(remote):
            g.tag(remote, "2021.09", first, message="made by someone else")  # right after our look
        return found

    monkeypatch.setattr(git_merge, "ls_remote", racing)
    result = git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE)
    assert (result.status, result.tag_status, result.ok) == ("skipped", "conflict", False)
    assert g.heads(remote)["stable"] == first
    assert g.tags(remote)["2021.09"] == first
