"""The Slack manifest matches what the app registers with Bolt and calls on the Web API, read
from the app itself (its listeners' matchers, its source) rather than from a copy of the YAML;
`qa feedback` summarises votes, and the state file keeps them as promised."""

import inspect
import json
import os
import re
import stat
import time
from pathlib import Path
from unittest import mock

import yaml
from click.testing import CliRunner
from slack_bolt import App, Assistant

from bot.cli import cli
from bot.slack.listeners import register
from bot.slack.state import ANSWERS, DAY, FEEDBACK, THREAD_CONTEXTS, SlackState
from retrieval.types import Answer, Citation

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((ROOT / "bot" / "manifest.yaml").read_text())
# Slack's documentation: the manifest event each Events API type is subscribed as, and its scope.
MESSAGE_EVENTS = {"message.channels": "channels:history", "message.groups": "groups:history", "message.im": "im:history"}
EVENT_SCOPES = {"app_mention": "app_mentions:read", "assistant_thread_started": "assistant:write",
                "assistant_thread_context_changed": "assistant:write", "app_home_opened": None, **MESSAGE_EVENTS}
# ...and the bot scopes the Web API methods need (chat:write.public: posting where not a member).
METHOD_SCOPES = {"chat_postMessage": {"chat:write", "chat:write.public"}, "chat_update": {"chat:write"},
                 "chat_postEphemeral": {"chat:write"}, "reactions_add": {"reactions:write"},
                 "reactions_remove": {"reactions:write"}, "conversations_info": {"channels:read", "groups:read"},
                 "usergroups_users_list": {"usergroups:read"}, "views_publish": set()}
ASSISTANT_EVENTS = {"_thread_started_listeners": "assistant_thread_started",
                    "_thread_context_changed_listeners": "assistant_thread_context_changed"}


def registered() -> dict[str, set[str]]:
    """The event types, commands and action ids the app's listeners are registered for."""
    app = App(token="xoxb-test", signing_secret="test", token_verification_enabled=False)
    register(app, mock.MagicMock())
    found: dict[str, set[str]] = {"event": set(), "command": set(), "action": set()}
    for listener in app._listeners:
        for matcher in listener.matchers:
            bound = inspect.getclosurevars(matcher.func).nonlocals
            kind = matcher.func.__qualname__.split(".")[0]
            found[kind].add(bound.get("event_type") or bound.get("command") or bound.get("constraints"))
    for assistant in (m for m in app._middleware_list if isinstance(m, Assistant)):
        found["event"] |= {event for attr, event in ASSISTANT_EVENTS.items() if getattr(assistant, attr)}
        if assistant._user_message_listeners:
            found["event"].add("message.im")
    return found


def test_the_manifest_subscribes_to_exactly_the_events_the_app_listens_for():
    listened = registered()["event"]
    events = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    if "message" in listened:  # the message listener answers DMs and thread follow-ups in both kinds of channel
        listened = (listened - {"message"}) | set(MESSAGE_EVENTS)
    assert events == listened
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] == ("app_home_opened" in listened)


def test_the_manifest_declares_the_registered_commands_and_interactivity_for_the_buttons():
    found = registered()
    assert {c["command"] for c in MANIFEST["features"]["slash_commands"]} == found["command"]
    assert found["action"] and MANIFEST["settings"]["interactivity"]["is_enabled"] is True


def test_the_manifest_asks_for_the_scopes_the_events_and_the_web_api_calls_need_and_no_more():
    source = "\n".join(p.read_text() for p in (ROOT / "bot" / "slack").rglob("*.py"))
    called = {m for m in METHOD_SCOPES if re.search(rf"\.{m}\b", source)}
    needed = {s for m in called for s in METHOD_SCOPES[m]}
    needed |= {EVENT_SCOPES[e] for e in MANIFEST["settings"]["event_subscriptions"]["bot_events"] if EVENT_SCOPES[e]}
    needed |= {"commands"} if registered()["command"] else set()
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == needed


def test_manifest_points_every_request_url_at_bolts_endpoint():
    settings = MANIFEST["settings"]
    urls = [settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"],
            *(c["url"] for c in MANIFEST["features"]["slash_commands"])]
    assert all(u.endswith("/slack/events") for u in urls)


def answer(state: SlackState, question: str) -> str:
    citation = Citation("default", "a.txt", "A", None, 0, 5, "Hello", 1.0)
    return state.save_answer(Answer(question, "Hello", False, [citation]), "default")


def test_feedback_is_counted_per_corpus_without_user_ids_unless_asked(isolated):
    from retrieval.settings import Settings

    state = SlackState.in_data_dir(Settings().data_dir)
    good, bad = answer(state, "q1?"), answer(state, "q2?")
    assert state.record_feedback(good, True, "U1", "C1")
    assert state.record_feedback(bad, False, "U2", "C1")
    assert not state.record_feedback("unknown-id", True, "U3", "C1")
    result = CliRunner().invoke(cli, ["feedback"])
    assert "default\t1 helpful\t1 not helpful\t50% helpful" in result.output
    assert "q2?" in result.output.split("latest 'not helpful':")[1]
    assert "U1" not in result.output and "U2" not in result.output
    rows = [json.loads(line) for line in CliRunner().invoke(cli, ["feedback", "--json"]).output.splitlines()]
    assert [(r["question"], r["helpful"]) for r in rows] == [("q1?", 1), ("q2?", 0)] and "user" not in rows[0]
    rows = [json.loads(line) for line in CliRunner().invoke(cli, ["feedback", "--json", "--users"]).output.splitlines()]
    assert [r["user"] for r in rows] == ["U1", "U2"]
    assert "(U2)" in CliRunner().invoke(cli, ["feedback", "--users"]).output


def test_a_user_has_one_vote_per_answer_and_a_second_click_changes_it(tmp_path):
    state = SlackState(tmp_path / "slack.sqlite3")
    answer_id = answer(state, "q?")
    for _ in range(100):
        state.record_feedback(answer_id, True, "U1", "C1")
    state.record_feedback(answer_id, False, "U1", "C1")
    state.record_feedback(answer_id, True, "U2", "C1")
    [summary] = state.feedback_summary()
    assert (summary.helpful, summary.not_helpful) == (1, 1)


def test_the_state_file_is_readable_by_its_owner_only(tmp_path):
    os.umask(0o022)
    state = SlackState(tmp_path / "slack.sqlite3")
    answer(state, "a private question?")
    for path in tmp_path.iterdir():  # the database and SQLite's -wal and -shm files
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_questions_and_answers_are_deleted_after_the_retention_period(tmp_path):
    state = SlackState(tmp_path / "slack.sqlite3", retention_days=30)
    old, recent = answer(state, "old?"), answer(state, "recent?")
    state.record_feedback(old, False, "U1", "C1")
    state.thread_contexts.save(channel_id="D1", thread_ts="1.0", context={"channel_id": "C1"})
    with state.engine.begin() as db:
        for table in (ANSWERS, FEEDBACK, THREAD_CONTEXTS):
            db.execute(table.update().values(created=time.time() - 31 * DAY))
        db.execute(ANSWERS.update().where(ANSWERS.c.id == recent).values(created=time.time()))
    assert state.purge_expired() == 3
    assert state.load_answer(old) is None and state.load_answer(recent) is not None
    assert state.feedback_rows() == [] and state.thread_contexts.find(channel_id="D1", thread_ts="1.0") is None
