"""The Slack manifest asks for exactly what the app uses; `qa feedback` summarises votes, and
the state file keeps them as promised."""

import json
import os
import stat
import time
from pathlib import Path

import yaml
from click.testing import CliRunner

from bot.cli import cli
from bot.slack.state import DAY, SlackState
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
    for table in ("answers", "feedback", "thread_contexts"):
        state._run(f"UPDATE {table} SET created = ?", (time.time() - 31 * DAY,))
    state._run("UPDATE answers SET created = ? WHERE id = ?", (time.time(), recent))
    assert state.purge_expired() == 3
    assert state.load_answer(old) is None and state.load_answer(recent) is not None
    assert state.feedback_rows() == [] and state.thread_contexts.find(channel_id="D1", thread_ts="1.0") is None
