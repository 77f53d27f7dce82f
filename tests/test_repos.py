"""Loading the repository list from [repos]."""

from __future__ import annotations

import pytest

from thor_cli.config import Settings, parse_config
from thor_cli.errors import ConfigError
from thor_cli.repos import Repo, load_repos


def settings_for(tmp_path, repos: dict) -> Settings:
    return Settings(config=parse_config({"repos": repos}), path=tmp_path / "thor.toml", database_url="sqlite://")


def test_names_with_default_url_template(tmp_path):
    repos = load_repos(settings_for(tmp_path, {"names": ["uc-cdis/fence", "uc-cdis/indexd"]}))
    assert repos == [
        Repo("uc-cdis/fence", "https://github.com/uc-cdis/fence.git", None, None),
        Repo("uc-cdis/indexd", "https://github.com/uc-cdis/indexd.git", None, None),
    ]


def test_file_relative_to_config_with_comments_blank_lines_and_duplicates(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "repos.txt").write_text(
        "# Gen3 core services\n\nfence\n  indexd   # the index\nsheepdog\nfence\n\n# peregrine\n"
    )
    settings = Settings(
        config=parse_config(
            {
                "repos": {
                    "names": ["arborist", "indexd"],
                    "file": "repos.txt",
                    "url": "git@github.com:uc-cdis/{repo}",
                }
            }
        ),
        path=tmp_path / "conf" / "thor.toml",
        database_url="sqlite://",
    )
    repos = load_repos(settings)
    assert [r.name for r in repos] == ["arborist", "indexd", "fence", "sheepdog"]
    assert repos[2].url == "git@github.com:uc-cdis/fence"


def test_overrides_and_disabled_repositories(tmp_path):
    config = {
        "names": ["fence", "indexd", "legacy", "sheepdog"],
        "url": "https://github.com/uc-cdis/{repo}.git",
        "source_branch": "master",
        "overrides": {
            "indexd": {"source_branch": "develop", "stable_branch": "release"},
            "legacy": {"enabled": False},
            "sheepdog": {"url": "https://git.example.org/sheepdog.git"},
            "not-listed": {"enabled": False},
        },
    }
    repos = {r.name: r for r in load_repos(settings_for(tmp_path, config))}
    assert list(repos) == ["fence", "indexd", "sheepdog"]
    assert repos["fence"] == Repo("fence", "https://github.com/uc-cdis/fence.git", "master", None)
    assert (repos["indexd"].source_branch, repos["indexd"].stable_branch) == ("develop", "release")
    assert repos["sheepdog"].url == "https://git.example.org/sheepdog.git"
    assert repos["sheepdog"].source_branch == "master"


def test_missing_file_is_a_config_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match=r"repos\.file: .*missing-repos\.txt does not exist"):
        load_repos(settings_for(tmp_path, {"file": "missing-repos.txt"}))


def test_names_with_spaces_in_file_are_rejected(tmp_path):
    (tmp_path / "repos.txt").write_text("fence\nuc cdis indexd\n")
    with pytest.raises(ConfigError, match=r"repos\.txt:2"):
        load_repos(settings_for(tmp_path, {"file": "repos.txt"}))


def test_no_repositories_configured(tmp_path):
    assert load_repos(settings_for(tmp_path, {})) == []
