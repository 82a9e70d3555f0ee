"""Questions whose replica died after acknowledging them, answered by another replica's
sweeper, in one process: two real Bolt apps (replica A and replica B) on one state file,
signed requests in Slack's payload shapes, the fake Slack Web API, the real chain, model
and Chroma. A "dies" the way a SIGKILL leaves things: its claim made and Slack answered
200, its queued answer never run, its claim never renewed. The sweeper is driven one pass
at a time with a clock past the claim timeout, so nothing sleeps."""

from __future__ import annotations

import json
import logging
import os
import textwrap
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from slack_bolt import BoltRequest

from bot.slack.app import AnsweringPool, Bot, build
from bot.slack.questions import RESPONSE_URL_LIFETIME
from bot.slack.replies import GAVE_UP
from bot.slack.server import warm
from bot.slack.state import EVENTS, MAX_ATTEMPTS, SlackState
from bot.slack.sweeper import Sweeper, sweep_interval
from retrieval.engine import Engine
from retrieval.ingest.pipeline import ingest
from retrieval.settings import Settings
from retrieval.store.naming import slack_state
from tests.bot.test_slack import BOT_TOKEN, SECRET, all_text
from tests.support.seed import SEED_CORPUS, SHOIGU_SENTENCE
from tests.support.slack_fake import FakeSlack, app_mention, event_callback, message, new_ts, sign, slash_command

pytestmark = pytest.mark.integration

TIMEOUT = 5.0
QUESTION = "What did Shoigu ask Wallace?"
OPEN = '[default]\ncorpus = "default"\n'
CLOSED_TO_ASKER = '[default]\ncorpus = "default"\nusers = ["U0SOMEONEELSE"]\n'


@dataclass
class World:
    settings: Settings
    engine: Engine
    fake: FakeSlack

    def replica(self, answering: AnsweringPool | None = None) -> Bot:
        state = SlackState(slack_state(self.settings.data_dir), claim_timeout=TIMEOUT)
        return build(self.settings, self.engine, state, answering or AnsweringPool())

    def rules(self, text: str) -> None:
        """Rewrites the access file every replica reads (re-read when its mtime changes)."""
        path = self.settings.slack_access
        before = path.stat().st_mtime_ns
        path.write_text(textwrap.dedent(text))
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))  # a new mtime even within one clock tick


@pytest.fixture(scope="module")
def world(tmp_path_factory, model_cache):
    root = tmp_path_factory.mktemp("sweeper")
    (root / "access.toml").write_text(OPEN)
    fake = FakeSlack()
    settings = Settings(data_dir=root / "data", model_cache=model_cache, slack_api_url=fake.api_url,
                        slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET, QA_SLACK_ACCESS=str(root / "access.toml"))
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    engine = Engine(settings)
    warm(engine, settings)
    try:
        yield World(settings, engine, fake)
    finally:
        fake.close()


@pytest.fixture(autouse=True)
def open_rules(world):
    world.rules(OPEN)
    yield
    world.rules(OPEN)


def deliver(bot: Bot, body: dict, form: bool = False) -> None:
    raw = urllib.parse.urlencode(body) if form else json.dumps(body)
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    response = bot.app.dispatch(BoltRequest(body=raw, headers={"content-type": content_type, **sign(SECRET, raw)}))
    assert response.status == 200  # acknowledged: Slack will not retry it


def dies_after_the_ack(world: World, body: dict, form: bool = False) -> None:
    """Replica A acknowledges `body`, then dies before its answer starts."""
    pool, busy = AnsweringPool(workers=1), threading.Event()
    pool.submit(busy.wait)  # A's only answering thread is busy: the answer waits in its queue...
    deliver(world.replica(pool), body, form)
    pool.shutdown(wait=False, cancel_futures=True)  # ...and is gone with A
    busy.set()


def sweep_later(bot: Bot, after: float = TIMEOUT + 1) -> list:
    claims = bot.sweeper.sweep(now=time.time() + after)
    assert bot.answering.wait_idle(60)
    return claims


def claim_row(world: World, key: str):
    state = SlackState(slack_state(world.settings.data_dir))
    try:
        with state.engine.connect() as db:
            return db.execute(sa.select(EVENTS).where(EVENTS.c.event_id == key)).one()
    finally:
        state.close()


def channel(prefix: str = "C") -> str:
    return prefix + uuid.uuid4().hex[:10].upper()


def test_a_mention_acknowledged_by_a_replica_that_died_is_answered_once_in_its_thread_by_anothers_sweeper(world):
    c = channel()
    mention = app_mention(QUESTION, c)
    body = event_callback(mention)
    dies_after_the_ack(world, body)
    b = world.replica()
    assert b.sweeper.sweep(now=time.time() + TIMEOUT - 1) == []  # within the timeout A might still be answering
    [claim] = sweep_later(b)
    assert claim.event_id == body["event_id"] and claim.attempts == 2
    [post] = world.fake.posts(c)
    assert post["thread_ts"] == mention["ts"] and SHOIGU_SENTENCE in all_text(post)
    reactions = [x.body["name"] for x in world.fake.calls_about(c) if x.method.startswith("reactions.")]
    assert reactions == ["eyes", "eyes"]  # shown and removed by B, as for a live question
    row = claim_row(world, body["event_id"])
    assert row.done and not row.failed and row.claimed_by == b.replier.state.replica and row.question is None
    assert sweep_later(world.replica(), after=3600) == [] and len(world.fake.posts(c)) == 1


def test_a_direct_message_and_an_assistant_thread_message_are_taken_over_the_same_way(world):
    dm, panel, thread = channel("D"), channel("D"), new_ts()
    dies_after_the_ack(world, event_callback(message("What would Russia like to avoid?", dm, "im")))
    dies_after_the_ack(world, event_callback(message(QUESTION, panel, "im", thread_ts=thread)))
    assert len(sweep_later(world.replica())) == 2
    [direct] = world.fake.posts(dm)
    assert direct.get("thread_ts") is None and "this is something we would like to avoid" in all_text(direct)
    [answer] = world.fake.posts(panel)
    assert answer["thread_ts"] == thread and SHOIGU_SENTENCE in all_text(answer)
    assert "Searched the corpus 'default'" in all_text(answer)
    status = [x.body for x in world.fake.calls_about(panel) if x.method == "assistant.threads.setStatus"]
    assert status and status[0]["status"] == "searching the corpus 'default'..."


def test_an_ask_is_taken_over_through_its_response_url_while_that_still_works(world):
    c = channel()
    ask = slash_command(QUESTION, c, world.fake.response_url(c))
    dies_after_the_ack(world, ask, form=True)
    assert len(sweep_later(world.replica())) == 1
    [private] = world.fake.responses(c)
    assert private["response_type"] == "ephemeral" and SHOIGU_SENTENCE in json.dumps(private["blocks"])


def test_an_ask_whose_response_url_has_expired_is_recorded_failed_not_answered(world, caplog):
    c = channel()
    ask = slash_command(QUESTION, c, world.fake.response_url(c))
    dies_after_the_ack(world, ask, form=True)
    with caplog.at_level(logging.INFO):
        sweep_later(world.replica(), after=RESPONSE_URL_LIFETIME + 1)
    assert world.fake.responses(c) == []
    row = claim_row(world, f"command:{ask['trigger_id']}")
    assert row.done and row.failed and row.question is None
    assert "too old to answer" in caplog.text and QUESTION not in caplog.text


def test_access_is_decided_again_when_a_question_is_taken_over(world):
    c = channel()
    mention = app_mention(QUESTION, c)
    dies_after_the_ack(world, event_callback(mention))  # A admitted nothing yet: it died first
    world.rules(CLOSED_TO_ASKER)  # meanwhile the asker lost access
    sweep_later(world.replica())
    assert world.fake.posts(c) == []
    [refusal] = world.fake.posts(c, method="chat.postEphemeral")
    assert refusal["user"] == mention["user"] and "closed to you" in refusal["text"]
    assert SHOIGU_SENTENCE not in json.dumps(refusal)


def test_a_question_every_attempt_died_on_gets_one_plain_failure_notice_and_is_never_tried_again(world, caplog):
    c = channel()
    mention = app_mention(QUESTION, c)
    body = event_callback(mention)
    dies_after_the_ack(world, body)  # attempt 1
    clock = time.time()
    for attempt in range(2, MAX_ATTEMPTS + 1):  # each replica that takes it over dies on it as well
        pool, busy = AnsweringPool(workers=1), threading.Event()
        pool.submit(busy.wait)
        clock += TIMEOUT + 1
        [claim] = world.replica(pool).sweeper.sweep(now=clock)
        assert claim.attempts == attempt and not claim.give_up
        pool.shutdown(wait=False, cancel_futures=True)
        busy.set()
    last = world.replica()
    with caplog.at_level(logging.INFO):
        [claim] = last.sweeper.sweep(now=clock + TIMEOUT + 1)
        assert last.answering.wait_idle(60)
    assert claim.give_up
    [notice] = world.fake.posts(c)
    assert notice["thread_ts"] == mention["ts"] and notice["text"] == GAVE_UP and SHOIGU_SENTENCE not in all_text(notice)
    row = claim_row(world, body["event_id"])
    assert row.done and row.failed and row.attempts == MAX_ATTEMPTS and row.question is None
    assert f"event {body['event_id']} (mention): no answer after {MAX_ATTEMPTS} attempts" in caplog.text
    assert QUESTION not in caplog.text and "Shoigu" not in caplog.text
    assert sweep_later(world.replica(), after=3600) == [] and len(world.fake.posts(c)) == 1


def test_the_sweeper_thread_sweeps_every_interval_and_stops_when_told(world):
    state = SlackState(slack_state(world.settings.data_dir), claim_timeout=0.2)
    dead = SlackState(slack_state(world.settings.data_dir), claim_timeout=0.2)
    assert dead.claim_event(f"Ev0THREAD{uuid.uuid4().hex[:6]}", {"kind": "mention"}, now=time.time() - 1)
    replayed: list = []
    seen = threading.Semaphore(0)
    sweeper = Sweeper(state, lambda claim: (replayed.append(claim), seen.release()))
    assert sweeper.interval == sweep_interval(0.2) == 0.25 and sweep_interval(60) == 15 and sweep_interval(8) == 2
    sweeper.start()
    try:
        assert seen.acquire(timeout=10)
        # A claim that dies after the first sweep is found by a later one: it keeps sweeping.
        assert dead.claim_event(f"Ev0LATER{uuid.uuid4().hex[:6]}", {"kind": "mention"}, now=time.time() - 1)
        assert seen.acquire(timeout=10) and sweeper._thread.is_alive()
    finally:
        sweeper.stop()
    assert not sweeper._thread.is_alive() and len(replayed) == 2 and replayed[0] != replayed[1]
