"""SlackClient against the fake Slack: real slack_sdk WebClient, real HTTP on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.fakes.slack_server import FakeSlack
from tests.support import unavailable_within
from thor_cli.adapters.slack import SlackClient, release_metadata
from thor_cli.config import Settings, parse_config
from thor_cli.errors import ConfigError, ServiceUnavailable, StepError


def client_for(fake: FakeSlack, *, token: str | None = None, timeout: float = 5, retries: int = 2) -> SlackClient:
    return SlackClient(
        token or fake.token, base_url=f"{fake.url}/api/", timeout=timeout, max_rate_limit_retries=retries
    )


def settings_with(**slack: object) -> Settings:
    return Settings(config=parse_config({"slack": slack}), path=None, database_url="sqlite://")


def test_auth_test(slack_fake: FakeSlack) -> None:
    assert client_for(slack_fake).auth_test()["user_id"] == "U0THOR"


def test_post_reply_and_update(slack_fake: FakeSlack) -> None:
    client = client_for(slack_fake)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Release 2024.05*"}}]
    ts = client.post(
        "#releases", "Release 2024.05", blocks=blocks, metadata=release_metadata("thor_release", "2024.05")
    )
    reply_ts = client.post("C0RELEASES", "branches cut", thread_ts=ts)
    client.update("C0RELEASES", ts, "Release 2024.05: done")

    first, reply = slack_fake.messages
    assert (first["ts"], first["text"], first["blocks"]) == (ts, "Release 2024.05", blocks)
    assert first["metadata"] == {"event_type": "thor_release", "event_payload": {"key": "2024.05"}}
    assert (reply["ts"], reply["thread_ts"]) == (reply_ts, ts)
    assert slack_fake.updates == [{"channel": "C0RELEASES", "ts": ts, "text": "Release 2024.05: done"}]
    assert [m["text"] for m in slack_fake.replies("releases", ts)] == ["branches cut"]


def test_find_message_recognises_the_release_thread(slack_fake: FakeSlack) -> None:
    client = client_for(slack_fake)
    assert client.find_message("C0RELEASES", event_type="thor_release", key="2024.05") is None
    ts = client.post("releases", "Release 2024.05", metadata=release_metadata("thor_release", "2024.05", step="x"))
    client.post("releases", "a reply", thread_ts=ts, metadata=release_metadata("thor_release", "2024.06"))
    client.post("releases", "Release 2024.06", metadata=release_metadata("other_event", "2024.05"))
    assert client.find_message("C0RELEASES", event_type="thor_release", key="2024.05") == ts
    assert client.find_message("C0RELEASES", event_type="thor_release", key="2024.06") is None  # replies don't count
    assert slack_fake.calls.count("conversations.history") == 3


def test_find_message_pages_through_a_busy_channel(slack_fake: FakeSlack) -> None:
    ts = slack_fake.seed_message("releases", "Release 2024.05", metadata=release_metadata("thor_release", "2024.05"))
    for n in range(250):
        slack_fake.seed_message("releases", f"chatter {n}")
    assert client_for(slack_fake).find_message("C0RELEASES", event_type="thor_release", key="2024.05") == ts
    assert slack_fake.calls.count("conversations.history") == 2


def test_rate_limit_is_retried_after_retry_after(slack_fake: FakeSlack) -> None:
    client = client_for(slack_fake)
    slack_fake.fail_next(1, status=429, retry_after=1)
    started = time.monotonic()
    ts = client.post("releases", "Release 2024.05")
    assert time.monotonic() - started >= 1  # waited as Slack asked
    assert slack_fake.count("POST", "/api/chat.postMessage") == 2
    assert [m["ts"] for m in slack_fake.messages] == [ts]  # posted once


def test_rate_limit_that_persists_is_unavailable(slack_fake: FakeSlack) -> None:
    client = client_for(slack_fake, retries=0)
    slack_fake.fail_next(1, status=429, retry_after=1)
    with pytest.raises(ServiceUnavailable, match=r"Slack is rate limiting Thor \(still ratelimited after 0 retries\)"):
        client.post("releases", "Release 2024.05")
    assert slack_fake.messages == []


def test_wrong_token_is_unavailable_and_never_shown(slack_fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "xoxb-wrong-1111-token"
    monkeypatch.setenv("THOR_SLACK_TOKEN", wrong)
    client = SlackClient.from_settings(settings_with(channel="#releases", base_url=f"{slack_fake.url}/api/"))
    with pytest.raises(ServiceUnavailable) as caught:
        client.post("releases", "hello")
    assert str(caught.value) == "Slack rejected the token (invalid_auth)"
    assert wrong not in repr(client)


def test_slack_errors_are_step_errors_with_the_code(slack_fake: FakeSlack) -> None:
    client = client_for(slack_fake)
    with pytest.raises(StepError, match=r"^Slack could not post to #nowhere: channel_not_found$"):
        client.post("#nowhere", "hello")
    with pytest.raises(StepError, match="message_not_found"):
        client.update("C0RELEASES", "123.456", "hello")


def test_a_server_error_echoing_the_token_is_not_shown(slack_fake: FakeSlack) -> None:
    client = client_for(slack_fake)
    slack_fake.fail_next(1, status=500, body=f"internal error for {slack_fake.token}")
    with pytest.raises(ServiceUnavailable) as caught:
        client.post("releases", "hello")
    assert str(caught.value) == f"Slack at {slack_fake.url}/api/ failed to post to releases (HTTP 500)"


def test_server_down_is_unavailable_quickly_and_recovers(slack_fake: FakeSlack) -> None:
    client = client_for(slack_fake)
    slack_fake.down()
    assert (
        unavailable_within(3, client.auth_test) == f"Slack at {slack_fake.url}/api/ is unreachable: connection refused"
    )
    slack_fake.up()
    assert client.auth_test()["ok"]


def test_slow_server_times_out(slack_fake: FakeSlack) -> None:
    client = client_for(slack_fake, timeout=0.3)
    slack_fake.delay = 2
    assert (
        unavailable_within(1.5, client.post, "releases", "hello")
        == f"Slack at {slack_fake.url}/api/ did not answer within 0.3s"
    )


def test_no_proxy_is_honoured(slack_fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk reads HTTPS_PROXY itself; urllib still skips the proxy for hosts in NO_PROXY.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens there
    assert client_for(slack_fake).auth_test()["ok"]


def test_from_settings(slack_fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    client = SlackClient.from_settings(settings_with(channel="#releases", base_url=f"{slack_fake.url}/api", timeout=4))
    assert (client.base_url, client.timeout) == (f"{slack_fake.url}/api/", 4)
    assert client.auth_test()["ok"]
    with pytest.raises(ConfigError, match=r"^\[slack\] channel is not set in thor.toml$"):
        SlackClient.from_settings(settings_with())
    monkeypatch.delenv("THOR_SLACK_TOKEN")
    with pytest.raises(ConfigError, match=r"^THOR_SLACK_TOKEN is not set$"):
        SlackClient.from_settings(settings_with(channel="#releases"))


def test_importing_the_adapter_does_not_import_the_client_library() -> None:
    code = "import sys, thor_cli.adapters.slack; print(sorted({'slack_sdk', 'requests'} & set(sys.modules)))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_a_channel_name_is_resolved_to_its_id_through_every_page_of_the_list(slack_fake: FakeSlack) -> None:
    for n in range(450):  # three pages of 200
        slack_fake.channels[f"chatter-{n:03d}"] = f"C0CHAT{n:04d}"
    slack_fake.channels["zz-releases"] = "C0ZZRELEASE"
    client = client_for(slack_fake)
    assert client.channel_id("#zz-releases") == "C0ZZRELEASE"
    assert client.channel_id("zz-releases") == "C0ZZRELEASE"
    assert slack_fake.calls.count("conversations.list") == 2 * 3
    assert client.channel_id("C0ZZRELEASE") == "C0ZZRELEASE"  # an id is taken as it is, without a call
    assert slack_fake.calls.count("conversations.list") == 6


def test_a_channel_that_cannot_be_found_says_so_in_one_line(slack_fake: FakeSlack) -> None:
    with pytest.raises(StepError, match=r"^Slack channel #nowhere not found among the channels the token can see"):
        client_for(slack_fake).channel_id("#nowhere")


def test_history_needs_an_id_as_real_slack_does(slack_fake: FakeSlack) -> None:
    # conversations.history answers channel_not_found for a name: Thor must resolve names first.
    with pytest.raises(StepError, match="channel_not_found"):
        client_for(slack_fake).find_message("#releases", event_type="thor_release", key="2024.05")
