"""Secrets come only from the environment, and this module keeps them out of everything Thor writes.

``redact`` is applied to every string that leaves Thor: step output kept in the database, event details,
error messages and log lines.
"""

from __future__ import annotations

import base64
import os
import re

SECRET_ENV_VARS = (
    "THOR_JENKINS_USER",
    "THOR_JENKINS_TOKEN",
    "THOR_JIRA_USER",
    "THOR_JIRA_TOKEN",
    "THOR_SLACK_TOKEN",
    "THOR_GITHUB_TOKEN",
    "THOR_SERVER_TOKEN",
    "THOR_REGISTRY_USER",
    "THOR_REGISTRY_TOKEN",
)
# Only tokens are masked wherever they appear; user names are too short and common to mask blindly.
_MASKED_ENV_VARS = (
    "THOR_JENKINS_TOKEN",
    "THOR_JIRA_TOKEN",
    "THOR_SLACK_TOKEN",
    "THOR_GITHUB_TOKEN",
    "THOR_REGISTRY_TOKEN",
)
_MASKED_ENV_VARS += ("THOR_SERVER_TOKEN",)  # thor serve's write token
_MASK = "***"
# The user information of a URL (https://user:tok@host, postgresql://u:p@host/db), up to the *last* @ before
# the host: a password with an unencoded @ (u:pre@SUFFIX@host) is masked whole. The look-behind makes the
# scheme start only at the start of a word, which keeps the search linear on long unbroken text.
_URL_CREDENTIALS = re.compile(r"(?<![A-Za-z0-9+.-])(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<cred>[^\s/?#]*)@")
# Well-known token shapes, in case one arrives from somewhere other than our environment.
_TOKEN_SHAPES = re.compile(
    r"\b(?:xox[abposr]-[A-Za-z0-9-]{6,}|gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,})"
)
# "Authorization: Basic X", but also quoted back as JSON ("Authorization": "Basic X") or in HTML.
_AUTH_HEADER = re.compile(r"(?i)(authorization\W{0,6}(?:bearer|basic|token)\s+)[^\s\"'<,;]+")


# Never passed on to a child process: what a program needs, its step passes explicitly.
DATABASE_ENV_VAR = "THOR_DATABASE_URL"
_SECRET_NAME = re.compile(r"^THOR_\w*(TOKEN|PASSWORD|SECRET)\w*$")
_registered: set[str] = set()  # values learned at run time (the database password), masked like tokens


def child_environment() -> dict[str, str]:
    """Thor's environment without its secrets and database URL: the base of every child's environment."""
    return {
        key: value
        for key, value in os.environ.items()
        if key not in SECRET_ENV_VARS and key != DATABASE_ENV_VAR and not _SECRET_NAME.match(key)
    }


def register_url_password(url: str) -> None:
    """Mask the password of ``url`` (and each part of it around an unencoded ``@``) wherever it appears:
    a database driver may quote a piece of a malformed URL back in its own message."""
    from urllib.parse import unquote

    userinfo = url_userinfo(url)
    if userinfo is None or ":" not in userinfo:
        return
    password = userinfo.split(":", 1)[1]
    for value in (password, unquote(password), *password.split("@")):
        if len(value) >= 4:
            _registered.add(value)


def url_userinfo(url: str) -> str | None:
    """The user information of a URL, up to the last ``@`` before the host; None when there is none."""
    _scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    return authority.rpartition("@")[0] if "@" in authority else None


def secret(name: str) -> str | None:
    """The value of one secret environment variable, or None when unset or empty."""
    value = os.environ.get(name, "").strip()
    return value or None


def required_secret(name: str) -> str:
    """A secret a configured service needs; a ConfigError naming the variable when it is missing."""
    from thor_cli.errors import ConfigError

    value = secret(name)
    if value is None:
        raise ConfigError(f"{name} is not set")
    return value


# Basic auth sends base64("user:token"); a server that quotes the header back must not leak it either.
_BASIC_PAIRS = (
    ("THOR_JIRA_USER", "THOR_JIRA_TOKEN"),
    ("THOR_JENKINS_USER", "THOR_JENKINS_TOKEN"),
    ("THOR_REGISTRY_USER", "THOR_REGISTRY_TOKEN"),
)
_GITHUB_BASIC_USER = "x-access-token"  # what the git adapter sends with THOR_GITHUB_TOKEN


def _basic_forms(user: str, token: str) -> list[str]:
    encoded = base64.b64encode(f"{user}:{token}".encode()).decode()
    return [encoded, encoded.rstrip("=")]


def known_secrets() -> list[str]:
    values = [os.environ.get(name, "") for name in _MASKED_ENV_VARS]
    for user_var, token_var in _BASIC_PAIRS:
        user, token = os.environ.get(user_var, ""), os.environ.get(token_var, "")
        if user and token:
            values += _basic_forms(user, token)
    github = os.environ.get("THOR_GITHUB_TOKEN", "")
    if github:
        values += _basic_forms(_GITHUB_BASIC_USER, github)
    values += _registered
    # Longest first so that a token containing another token is masked whole.
    return sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)


def redact(text: str | None) -> str:
    if not text:
        return text or ""
    for value in known_secrets():
        text = text.replace(value, _MASK)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{_MASK}@", text)
    text = _TOKEN_SHAPES.sub(_MASK, text)
    return _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{_MASK}", text)
