"""Which remotes get THOR_GITHUB_TOKEN, and git failures that say their real cause, against real servers:
``git http-backend`` behind Basic authentication (tests/fakes/git_http.py) and, where installed, sshd."""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.fakes import gitrepos as g
from tests.fakes.git_http import GitHttpServer
from tests.support import isolate_git, only, steps_toml
from thor_cli.adapters import git, git_auth
from thor_cli.adapters.git import GitError
from thor_cli.config import Settings, parse_config

TOKEN = "tok-github-R1ght-7d3a9c"
WRONG = "tok-github-Wr0ng-1f2e3d"
REPOS = [f"uc-cdis/repo{i}" for i in range(10)]


def settings(**github: object) -> Settings:
    return Settings(parse_config({"github": github}), None, "sqlite://")


@pytest.fixture(autouse=True)
def default_policy():
    yield
    git_auth.configure(settings())


def header_of(env: dict[str, str]) -> str | None:
    count = int(env.get("GIT_CONFIG_COUNT", "0"))
    values = [env[f"GIT_CONFIG_VALUE_{i}"] for i in range(count) if env[f"GIT_CONFIG_KEY_{i}"] == "http.extraHeader"]
    return values[0] if values else None


def test_the_token_goes_only_to_the_hosts_it_belongs_to(monkeypatch):
    # Old: every https:// remote got it, including a mirror in [repos.overrides].
    monkeypatch.setenv("THOR_GITHUB_TOKEN", TOKEN)
    expected = "Authorization: Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert header_of(git.git_env("https://github.com/uc-cdis/fence.git")) == expected
    assert header_of(git.git_env("https://mirror.example.org/uc-cdis/fence.git")) is None
    assert header_of(git.git_env("https://ghe.example.com/uc-cdis/fence.git")) is None
    git_auth.configure(settings(api_url="https://ghe.example.com/api/v3", token_hosts=["git.example.net"]))
    assert header_of(git.git_env("https://ghe.example.com/uc-cdis/fence.git")) == expected
    assert header_of(git.git_env("https://git.example.net/uc-cdis/fence.git")) == expected
    assert header_of(git.git_env("https://mirror.example.org/uc-cdis/fence.git")) is None
    assert header_of(git.git_env("http://github.com/uc-cdis/fence.git")) is None  # never in clear


@pytest.fixture(scope="module")
def served_root(tmp_path_factory):
    """Ten served repositories, built once: one real remote, copied."""
    root = tmp_path_factory.mktemp("served")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in g.isolated_env(root.parent / "git-home").items():
            patch.setenv(key, value)
        first = g.make_remote(root / "uc-cdis", "repo0")
    for name in REPOS[1:]:
        shutil.copytree(first, root / f"{name}.git")
    return root


@pytest.fixture
def server(served_root, tmp_path, monkeypatch):
    isolate_git(tmp_path, monkeypatch)
    with GitHttpServer(served_root, token=TOKEN) as served:
        yield served


def allow_loopback() -> None:
    git_auth.configure(settings(api_url="http://127.0.0.1:9/api", allow_http=True, token_hosts=["127.0.0.1"]))


def test_the_right_token_over_an_allowed_loopback_server_works(server, monkeypatch):
    monkeypatch.setenv("THOR_GITHUB_TOKEN", TOKEN)
    allow_loopback()
    heads = git.remote_heads(server.url("uc-cdis/repo0.git"), "master")
    assert set(heads) == {"master"}
    assert server.expected in server.authorizations


def test_a_rejected_token_says_so(server, monkeypatch):
    # Old: "fatal: could not read Username for 'http://…': terminal prompts disabled", the same as no token.
    monkeypatch.setenv("THOR_GITHUB_TOKEN", WRONG)
    allow_loopback()
    with pytest.raises(GitError) as info:
        git.remote_heads(server.url("uc-cdis/repo0.git"), "master")
    origin = f"http://127.0.0.1:{server.port}"
    assert info.value.message == (
        f"uc-cdis/repo0: ls-remote failed: authentication failed for {origin} (THOR_GITHUB_TOKEN rejected)"
    )
    assert WRONG not in info.value.message + info.value.output


def test_a_token_withheld_over_plain_http_says_so_and_is_never_sent(server, monkeypatch):
    monkeypatch.setenv("THOR_GITHUB_TOKEN", TOKEN)
    git_auth.configure(settings(token_hosts=["127.0.0.1"]))  # a token host, but plain http not allowed
    with pytest.raises(GitError) as info:
        git.remote_heads(server.url("uc-cdis/repo0.git"), "master")
    assert info.value.message.endswith(
        f"authentication failed for http://127.0.0.1:{server.port} (token not sent over plain http://)"
    )
    assert set(server.authorizations) == {None}


def test_a_host_the_token_does_not_belong_to_never_gets_it(server, monkeypatch):
    monkeypatch.setenv("THOR_GITHUB_TOKEN", TOKEN)
    allow_loopback()  # 127.0.0.1 is a token host; the same server reached as "localhost" is not
    with pytest.raises(GitError) as info:
        git.remote_heads(server.url("uc-cdis/repo0.git", host="localhost"), "master")
    assert "authentication failed for http://localhost:" in info.value.message
    assert "no credentials for localhost: THOR_GITHUB_TOKEN goes only to GitHub hosts" in info.value.message
    assert set(server.authorizations) == {None}


def test_ten_repositories_failing_for_one_cause_say_it_once(server, tmp_path, monkeypatch, run_thor):
    # Old: the step's detail repeated the same "could not read Username…" once per repository.
    monkeypatch.setenv("THOR_GITHUB_TOKEN", WRONG)
    listed = ", ".join(f'"{n}"' for n in REPOS)
    toml = (
        f'[repos]\nnames = [{listed}]\nurl = "http://127.0.0.1:{server.port}/{{repo}}.git"\n\n'
        '[github]\napi_url = "http://127.0.0.1:9/api"\nallow_http = true\ntoken_hosts = ["127.0.0.1"]\n'
        + steps_toml(only("split-branch") | {"split-branch": "max_attempts = 1\n"})
    )
    config = write_config(tmp_path / "thor.toml", toml, f"sqlite:///{tmp_path / 'thor.db'}")
    result = run_thor("--config", config, "tick", "--now", "2021-09-10")
    assert result.exit_code == 1
    status = run_thor("--config", config, "status", "2021.09", "--json").json()
    (step,) = [s for s in status["steps"] if s["name"] == "split-branch"]
    detail = step["detail"]
    assert detail.count("authentication failed") == 1, detail
    assert "(THOR_GITHUB_TOKEN rejected)" in detail and "10 repos: uc-cdis/repo0" in detail
    assert len(detail) < 400


# -- ssh --------------------------------------------------------------------------------------------

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def sshd(tmp_path):
    if SSHD is None or shutil.which("ssh") is None:
        pytest.skip("sshd or ssh is not installed")
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    key = tmp_path / "host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    port = free_port()
    config = tmp_path / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\nPidFile none\nUsePAM no\nStrictModes no\n"
        "AuthorizedKeysFile none\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
    )
    daemon = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if daemon.poll() is not None or time.monotonic() > deadline:
                    pytest.skip("sshd does not start here")
                time.sleep(0.02)
        public = (tmp_path / "host_key.pub").read_text().split()
        yield port, f"[127.0.0.1]:{port} {public[0]} {public[1]}\n"
    finally:
        daemon.terminate()
        daemon.wait(10)


def ssh_command(known_hosts: Path) -> str:
    return f"ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={known_hosts}"


def test_an_unknown_ssh_host_key_is_named_not_just_could_not_read_from_remote(sshd, tmp_path, monkeypatch):
    # Old: only git's last line, "fatal: Could not read from remote repository.", was kept.
    port, _ = sshd
    known = tmp_path / "known_hosts"
    known.write_text("")
    monkeypatch.setenv("GIT_SSH_COMMAND", ssh_command(known))
    with pytest.raises(GitError) as info:
        git.remote_heads(f"ssh://git@127.0.0.1:{port}/uc-cdis/fence.git", "master")
    assert info.value.message == "uc-cdis/fence: ls-remote failed: ssh: host key verification failed for 127.0.0.1"


def test_a_refused_ssh_key_is_named(sshd, tmp_path, monkeypatch):
    port, host_line = sshd
    known = tmp_path / "known_hosts"
    known.write_text(host_line)
    monkeypatch.setenv("GIT_SSH_COMMAND", ssh_command(known) + " -o IdentitiesOnly=yes -o IdentityFile=none")
    with pytest.raises(GitError) as info:
        git.remote_heads(f"ssh://git@127.0.0.1:{port}/uc-cdis/fence.git", "master")
    assert info.value.message == (
        "uc-cdis/fence: ls-remote failed: ssh: permission denied by 127.0.0.1 (the ssh key of the user running Thor)"
    )
