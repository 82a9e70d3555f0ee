"""The Slack state as several replicas see it: the same specification on the default SQLite
file and on a real PostgreSQL (a throwaway cluster), each replica its own SlackState."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.parse

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from slack_bolt import BoltRequest

from bot.cli import cli
from bot.slack.app import AnsweringPool, create_app
from bot.slack.state import EVENTS, LATEST, MAX_ATTEMPTS, META, SCHEMA_VERSION, SlackState, events_v2, state_url
from retrieval.settings import Settings
from retrieval.types import Answer, Citation
from tests.support.slack_fake import BOT_USER, FakeSlack, app_mention, event_callback, sign, slash_command

QUESTION = {"kind": "mention", "channel": "C1", "user": "U1", "text": "What did Shoigu ask?", "ts": "1.0"}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path, monkeypatch) -> str:
    """QA_STATE_URL for one database both replicas share."""
    if request.param == "sqlite":
        value = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    else:
        value = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("QA_STATE_URL", value)
    return value


def replica(claim_timeout: float = 60.0) -> SlackState:
    settings = Settings(QA_STATE_CLAIM_TIMEOUT=claim_timeout)
    return SlackState(state_url(settings), settings.slack_retention_days, settings.state_claim_timeout)


def saved(state: SlackState, question: str) -> str:
    citation = Citation("default", "a.txt", "A", None, 0, 5, "Hello", 1.0)
    return state.save_answer(Answer(question, "Hello", False, [citation]), "default")


def test_of_replicas_claiming_one_event_at_once_exactly_one_wins(url):
    replicas = [replica() for _ in range(4)]
    wins: list[bool] = []
    start = threading.Barrier(8)

    def claim(state: SlackState) -> None:
        start.wait()
        wins.append(state.claim_event("Ev0RACE"))

    threads = [threading.Thread(target=claim, args=(r,)) for r in replicas * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_a_claim_not_done_within_the_timeout_goes_to_the_next_retry_and_only_once(url):
    a, b, c = replica(claim_timeout=5), replica(claim_timeout=5), replica(claim_timeout=5)
    now = time.time()
    assert a.claim_event("Ev0DIED", now=now)
    assert not b.claim_event("Ev0DIED", now=now + 4)  # A may still be answering
    assert b.claim_event("Ev0DIED", now=now + 6)  # A died: B takes it over
    assert not c.claim_event("Ev0DIED", now=now + 7)  # ...and now B's claim is the fresh one
    with b.engine.connect() as db:
        assert db.execute(sa.select(EVENTS.c.claimed_by)).scalar_one() == b.replica


def test_an_answered_event_is_never_answered_again(url):
    a, b = replica(claim_timeout=5), replica(claim_timeout=5)
    now = time.time()
    assert a.claim_event("Ev0DONE", now=now)
    a.finish_event("Ev0DONE")
    assert not b.claim_event("Ev0DONE", now=now + 3600)


def row(state: SlackState, event_id: str):
    with state.engine.connect() as db:
        return db.execute(sa.select(EVENTS).where(EVENTS.c.event_id == event_id)).one()


def test_of_sweepers_racing_for_stale_claims_each_claim_goes_to_exactly_one(url):
    dead, now = replica(claim_timeout=5), time.time()
    events = [f"Ev0STALE{n:02d}" for n in range(12)]
    for event_id in events:
        assert dead.claim_event(event_id, QUESTION, now=now - 10)  # its replica died: never renewed, never done
    sweepers = [replica(claim_timeout=5) for _ in range(4)]
    taken: dict[str, list[str]] = {s.replica: [] for s in sweepers}
    start = threading.Barrier(len(sweepers))

    def sweep(state: SlackState) -> None:
        start.wait()
        taken[state.replica] = [c.event_id for c in state.take_over_stale(now, limit=len(events))]

    threads = [threading.Thread(target=sweep, args=(s,)) for s in sweepers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = [e for ids in taken.values() for e in ids]
    assert sorted(won) == events  # every stale claim taken, none twice
    for holder, ids in taken.items():
        assert all(row(dead, e).claimed_by == holder and row(dead, e).attempts == 2 for e in ids)


def test_a_sweeper_that_read_a_stale_claim_another_took_meanwhile_does_not_take_it(url):
    dead, a, b, now = replica(claim_timeout=5), replica(claim_timeout=5), replica(claim_timeout=5), time.time()
    assert dead.claim_event("Ev0BOTH", QUESTION, now=now - 10)
    [seen_by_b] = b.stale_claims(now)
    [seen_by_a] = a.stale_claims(now)
    assert a.take_over(seen_by_a, now) is not None  # A's UPDATE lands first...
    assert b.take_over(seen_by_b, now + 0.5) is None  # ...so B's, from the same reading, matches nothing
    assert row(a, "Ev0BOTH").claimed_by == a.replica and row(a, "Ev0BOTH").attempts == 2


def test_a_done_claim_is_never_replayed_and_its_question_is_not_kept(url):
    a, b, now = replica(claim_timeout=5), replica(claim_timeout=5), time.time()
    assert a.claim_event("Ev0ANSWERED", QUESTION, now=now)
    a.finish_event("Ev0ANSWERED")
    assert b.take_over_stale(now + 3600) == [] and not b.claim_event("Ev0ANSWERED", QUESTION, now=now + 3600)
    assert row(b, "Ev0ANSWERED").question is None and row(b, "Ev0ANSWERED").claimed_by == a.replica


def test_an_event_that_is_no_question_is_never_taken_over(url):
    a, b, now = replica(claim_timeout=5), replica(claim_timeout=5), time.time()
    assert a.claim_event("Ev0HOMEOPENED", None, now=now)  # App Home, an edit...: nothing to answer again
    assert b.take_over_stale(now + 60) == []


def test_attempts_are_bounded_then_the_claim_is_given_up_once_and_recorded(url):
    replicas, now = [replica(claim_timeout=5) for _ in range(5)], time.time()
    assert replicas[0].claim_event("Ev0POISON", QUESTION, now=now)  # attempt 1, its replica dies
    assert replicas[1].claim_event("Ev0POISON", QUESTION, now=now + 6)  # a Slack retry: attempt 2, dies too
    [claim] = replicas[2].take_over_stale(now + 12)  # a sweeper: attempt 3, dies as well
    assert (claim.attempts, claim.give_up, claim.question) == (MAX_ATTEMPTS, False, QUESTION)
    assert not replicas[1].claim_event("Ev0POISON", QUESTION, now=now + 18)  # a late retry no longer answers it
    [last] = replicas[3].take_over_stale(now + 18)
    assert last.give_up and last.attempts == MAX_ATTEMPTS and last.question == QUESTION  # to tell the asker
    stored = row(replicas[0], "Ev0POISON")
    assert stored.done and stored.failed and stored.question is None and stored.attempts == MAX_ATTEMPTS
    assert replicas[4].take_over_stale(now + 3600) == []  # never again


def test_a_replica_working_on_a_claim_renews_it_and_it_is_taken_over_only_once_renewals_stop(url):
    a, b, now = replica(claim_timeout=5), replica(claim_timeout=5), time.time()
    assert a.claim_event("Ev0SLOW", QUESTION, now=now)
    assert a.renew_held(now + 4) == 1  # a slow answer, its replica alive
    assert b.take_over_stale(now + 6) == [] and b.take_over_stale(now + 8.5) == []
    a.release("Ev0SLOW")  # the attempt ended without an answer (say Slack refused the post)
    assert a.renew_held(now + 9) == 0
    [claim] = b.take_over_stale(now + 9.5)
    assert claim.event_id == "Ev0SLOW" and row(a, "Ev0SLOW").claimed_by == b.replica
    assert a.renew_held(now + 10) == 0  # a renewal by the old holder cannot take it back


def test_a_database_at_schema_version_2_is_migrated_keeping_the_claims_in_flight(url):
    engine = sa.create_engine(state_url(Settings()))
    with engine.begin() as db:
        META.create_all(db, tables=[t for t in META.sorted_tables if t.name != "events"])
        events_v2(sa.MetaData()).create(db)
        db.execute(SCHEMA_VERSION.insert().values(version=2))
        db.execute(sa.text("INSERT INTO events (event_id, claimed_by, claimed_at, done) VALUES ('Ev0OLD', 'old', :t, :f)"),
                   {"t": time.time(), "f": False})
    engine.dispose()
    a = replica()
    assert a.schema_version() == LATEST
    old = row(a, "Ev0OLD")
    assert (old.claimed_by, old.attempts, old.failed, old.question) == ("old", 1, False, None)
    assert not a.claim_event("Ev0OLD") and a.claim_event("Ev0NEW", QUESTION)
    assert row(a, "Ev0NEW").question is not None


def test_the_question_stored_with_a_claim_is_what_answers_it_and_holds_no_token(url):
    """Signed requests through the real Bolt app: its middleware stores each question with
    the claim before the ack. Read while the answer is still queued (the only answering
    thread is busy), as a replica taking it over would read it."""
    fake, token, secret = FakeSlack(), "xoxb-state-test-SECRET-token", "state-test-signing-secret"
    settings = Settings(slack_api_url=fake.api_url, slack_bot_token=token, slack_signing_secret=secret)
    pool, busy = AnsweringPool(workers=1), threading.Event()
    pool.submit(busy.wait)
    # No engine: the answers are cancelled before they start; the claims are the subject here.
    app = create_app(settings, None, replica(), pool)
    mention = event_callback(app_mention("What did Shoigu ask Wallace?", "CSTORED"), "Ev0STORED")
    ask = slash_command("What would Russia like to avoid?", "CSTORED", fake.response_url("stored"))
    try:
        for body, content_type in ((json.dumps(mention), "application/json"),
                                   (urllib.parse.urlencode(ask), "application/x-www-form-urlencoded")):
            headers = {"content-type": content_type, **sign(secret, body)}
            assert app.dispatch(BoltRequest(body=body, headers=headers)).status == 200
        with replica().engine.connect() as db:
            stored = dict(db.execute(sa.select(EVENTS.c.event_id, EVENTS.c.question)).all())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        busy.set()
        fake.close()
    asked, commanded = json.loads(stored["Ev0STORED"]), json.loads(stored[f"command:{ask['trigger_id']}"])
    event = mention["event"]
    assert (asked["kind"], asked["channel"], asked["user"], asked["text"], asked["ts"], asked["team"]) == (
        "mention", "CSTORED", event["user"], event["text"], event["ts"], event["team"])
    assert asked["bot_user_id"] == BOT_USER and asked["shared"] is False and asked["response_url"] is None
    assert (commanded["kind"], commanded["text"], commanded["response_url"]) == (
        "command", ask["text"], fake.response_url("stored"))
    for text in stored.values():
        assert "token" not in json.loads(text) and mention["token"] not in text
        assert token not in text and secret not in text


def test_history_answers_and_votes_written_by_one_replica_are_read_by_the_other(url):
    a, b = replica(), replica()
    answer_id = saved(a, "What did Shoigu ask?")
    a.add_turn("C1", "1.0", a.load_answer(answer_id)[0])
    assert [t.question for t in b.history("C1", "1.0")] == ["What did Shoigu ask?"]
    assert b.record_feedback(answer_id, True, "U1", "C1")
    assert a.record_feedback(answer_id, False, "U1", "C1")  # the same user changing their vote
    assert b.record_feedback(answer_id, True, "U2", "C1")
    b.thread_contexts.save(channel_id="D1", thread_ts="2.0", context={"channel_id": "C9"})
    assert a.thread_contexts.find(channel_id="D1", thread_ts="2.0")["channel_id"] == "C9"
    [summary] = a.feedback_summary()
    assert (summary.helpful, summary.not_helpful) == (1, 1)
    assert CliRunner().invoke(cli, ["feedback"]).output.startswith("default\t1 helpful\t1 not helpful")


def test_a_new_database_is_at_the_latest_schema_version_and_replicas_starting_together_agree(url):
    states: list[SlackState] = []
    threads = [threading.Thread(target=lambda: states.append(replica())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [s.schema_version() for s in states] == [LATEST] * 3


def test_a_state_file_from_before_versioning_is_migrated_keeping_its_answers_and_last_votes(tmp_path):
    path = tmp_path / "slack.sqlite3"
    old = sqlite3.connect(path)  # issue 11's schema, without the one-vote index
    old.executescript("""
        CREATE TABLE events (event_id TEXT PRIMARY KEY, seen REAL NOT NULL);
        CREATE TABLE answers (id TEXT PRIMARY KEY, question TEXT NOT NULL, corpus TEXT NOT NULL, answer TEXT NOT NULL,
            created REAL NOT NULL);
        CREATE TABLE turns (channel TEXT NOT NULL, thread_ts TEXT NOT NULL, question TEXT NOT NULL, cited TEXT NOT NULL,
            created REAL NOT NULL);
        CREATE TABLE feedback (answer_id TEXT NOT NULL, helpful INTEGER NOT NULL, question TEXT NOT NULL,
            answer TEXT NOT NULL, citations TEXT NOT NULL, corpus TEXT NOT NULL, user TEXT NOT NULL,
            channel TEXT NOT NULL, created REAL NOT NULL);
        CREATE TABLE thread_contexts (channel_id TEXT NOT NULL, thread_ts TEXT NOT NULL, context TEXT NOT NULL,
            created REAL NOT NULL, PRIMARY KEY (channel_id, thread_ts));
        INSERT INTO events VALUES ('Ev0OLD', 1.0);
        INSERT INTO feedback VALUES ('a1', 1, 'q?', 'a', '[]', 'default', 'U1', 'C1', 1.0);
        INSERT INTO feedback VALUES ('a1', 0, 'q?', 'a', '[]', 'default', 'U1', 'C1', 2.0);
    """)
    old.close()
    state = SlackState(path)
    assert state.schema_version() == LATEST
    assert [(r["answer_id"], r["helpful"]) for r in state.feedback_rows()] == [("a1", 0)]
    assert state.claim_event("Ev0NEW") and not state.claim_event("Ev0NEW")


def test_a_state_url_of_another_kind_is_refused_naming_its_scheme_but_not_the_rest(monkeypatch):
    from bot.cli import cli

    monkeypatch.setenv("QA_STATE_URL", "mysql://qa:hunter2-secret@db/qa")
    result = CliRunner().invoke(cli, ["feedback"])
    assert result.exit_code != 0 and "'mysql:'" in result.output and "hunter2" not in result.output


def test_doctor_checks_the_database_and_never_shows_its_password(postgres_url, monkeypatch):
    password = sa.engine.make_url(postgres_url).password
    monkeypatch.setenv("QA_STATE_URL", postgres_url)
    from bot.checks import _state_database

    check = _state_database(Settings())
    assert check.ok and f"schema version {LATEST}" in check.detail and password not in check.detail
    monkeypatch.setenv("QA_STATE_URL", postgres_url.replace(password, "wrong-" + password))
    check = _state_database(Settings())
    assert not check.ok and "cannot use the state database postgresql+psycopg://qa:***@127.0.0.1" in check.detail
    assert password not in check.detail and "\n" not in check.detail
