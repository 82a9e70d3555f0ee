"""The Slack manifest asks for exactly what the app uses; `qa feedback` summarises clicks."""

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from bot.cli import cli
from bot.slack.state import SlackState
from retrieval.types import Answer, Citation

MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[2] / "bot" / "manifest.yaml").read_text())


def test_manifest_subscribes_to_the_events_the_listeners_handle():
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention", "assistant_thread_started", "message.channels", "message.groups", "message.im"}


def test_manifest_requests_only_the_scopes_the_app_uses():
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read", "assistant:write", "channels:history", "groups:history", "chat:write", "commands",
        "im:history", "reactions:write"}


def test_manifest_points_every_request_url_at_bolts_endpoint_and_declares_ask():
    settings = MANIFEST["settings"]
    urls = [settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"],
            *(c["url"] for c in MANIFEST["features"]["slash_commands"])]
    assert all(u.endswith("/slack/events") for u in urls)
    assert [c["command"] for c in MANIFEST["features"]["slash_commands"]] == ["/ask"]


def test_feedback_is_summarised_per_corpus(isolated):
    from retrieval.settings import Settings

    state = SlackState.in_data_dir(Settings().data_dir)
    citation = Citation("default", "a.txt", "A", None, 0, 5, "Hello", 1.0)
    good = state.save_answer(Answer("q1?", "Hello", False, [citation]), "default")
    bad = state.save_answer(Answer("q2?", "Hello", False, [citation]), "default")
    assert state.record_feedback(good, True, "U1", "C1")
    assert state.record_feedback(bad, False, "U2", "C1")
    assert not state.record_feedback("unknown-id", True, "U3", "C1")
    result = CliRunner().invoke(cli, ["feedback"])
    assert "default\t1 helpful\t1 not helpful\t50% helpful" in result.output
    assert "q2?" in result.output.split("latest 'not helpful':")[1]
    rows = [json.loads(line) for line in CliRunner().invoke(cli, ["feedback", "--json"]).output.splitlines()]
    assert [(r["question"], r["helpful"], r["user"]) for r in rows] == [("q1?", 1, "U1"), ("q2?", 0, "U2")]
