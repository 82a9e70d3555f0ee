"""Two `qa serve` replicas, as an operator runs them behind a load balancer: separate
processes in HTTP mode sharing one Chroma server and one PostgreSQL (QA_STATE_URL), driven
with signed requests against the fake Slack Web API. The model, chain, Chroma and
PostgreSQL are real."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from bot.slack.blocks import HELPFUL
from tests.support.openai_fake import FakeOpenAI, Step, citing
from tests.support.ports import free_port
from tests.support.seed import ROOT, SEED_CORPUS, SHOIGU_SENTENCE
from tests.support.serving import start_serve
from tests.support.slack_fake import FakeSlack, app_mention, block_action, event_callback, message, post_signed

pytestmark = [pytest.mark.integration, pytest.mark.server]
SECRET = "replicas-test-signing-secret"
TOKEN = "xoxb-replicas-test-SECRET"
QUESTION = "What did Shoigu ask Wallace?"


@dataclass
class Replica:
    name: str
    url: str
    env: dict
    process: subprocess.Popen

    def event(self, event: dict, event_id: str, retry: int = 0) -> None:
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        body = json.dumps(event_callback(event, event_id))
        assert post_signed(self.url, body, "application/json", SECRET, headers=headers).status_code == 200

    def click(self, payload: dict) -> None:
        form = urllib.parse.urlencode({"payload": json.dumps(payload)})
        assert post_signed(self.url, form, "application/x-www-form-urlencoded", SECRET).status_code == 200

    def cli(self, *args: str) -> str:
        return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=self.env, check=True, capture_output=True,
                              text=True, cwd=ROOT).stdout

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def claim_row(state_url: str, event_id: str):
    """The event's claim as the shared database has it (None while unclaimed)."""
    from bot.slack.state import EVENTS

    engine = sa.create_engine(state_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as db:
            return db.execute(sa.select(EVENTS).where(EVENTS.c.event_id == event_id)).first()
    finally:
        engine.dispose()


def finished(state_url: str, event_id: str) -> str | None:
    """The replica whose answer to the event is posted (its claim is done), as the shared
    database has it; None while it is unclaimed or being answered."""
    row = claim_row(state_url, event_id)
    return row.claimed_by if row is not None and row.done and not row.failed else None


def held_by(replica: Replica) -> str:
    return f"{socket.gethostname()}:{replica.process.pid}:"


@pytest.fixture
def deployment(tmp_path, chroma_server, postgres_url):
    """start(name, **env): a replica of one deployment (its own data dir; the index on the
    Chroma server, the state in PostgreSQL), its corpus ingested once."""
    host, port = chroma_server
    fake, corpus = FakeSlack(), f"replicas-{uuid.uuid4().hex[:8]}"
    base = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "CHROMA_HOST": host, "CHROMA_PORT": str(port),
            "QA_CORPUS": corpus, "QA_STATE_URL": postgres_url, "SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET}
    subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(SEED_CORPUS)], env={**base, "QA_DATA_DIR": str(tmp_path / "ingest")},
                   check=True, capture_output=True)
    replicas: list[Replica] = []

    def start(name: str, **env: str) -> Replica:
        replica_env = {**base, "QA_DATA_DIR": str(tmp_path / name), **env}
        serve_port = free_port()
        process = start_serve(replica_env, serve_port, open(tmp_path / f"{name}.log", "w"))
        replicas.append(Replica(name, f"http://127.0.0.1:{serve_port}/slack/events", replica_env, process))
        return replicas[-1]

    start.fake, start.state_url, start.logs = fake, postgres_url, tmp_path
    try:
        yield start
    finally:
        for replica in replicas:
            replica.stop()
        fake.close()
    for replica in replicas:
        assert TOKEN not in (tmp_path / f"{replica.name}.log").read_text()


def test_a_retry_on_the_other_replica_is_not_answered_again_and_the_thread_and_votes_are_shared(deployment):
    a, b = deployment("a"), deployment("b")
    fake = deployment.fake

    mention = app_mention(QUESTION, "CREPL")
    a.event(mention, "Ev0FIRST")
    b.event(mention, "Ev0FIRST", retry=1)  # Slack did not see A's ack in time
    assert fake.wait_for(lambda: finished(deployment.state_url, "Ev0FIRST")).startswith(held_by(a))
    [answer] = fake.posts("CREPL")  # B acknowledged the retry and dropped it
    assert SHOIGU_SENTENCE in json.dumps(answer["blocks"]) and answer["thread_ts"] == mention["ts"]

    # A follow-up in A's thread, delivered to B: B knows the thread only from A's turns.
    b.event(message("And what would Russia like to avoid?", "CREPL", "channel", thread_ts=mention["ts"]), "Ev0FOLLOW")
    assert fake.wait_for(lambda: finished(deployment.state_url, "Ev0FOLLOW")).startswith(held_by(b))
    first, followup = fake.posts("CREPL")
    assert first == answer and followup["thread_ts"] == mention["ts"]

    # A vote on A's answer, clicked on B, counts once, and both replicas' qa feedback agree.
    answer_id = next(e["value"] for block in answer["blocks"] for e in block.get("elements", [])
                     if e.get("action_id") == HELPFUL)
    b.click(block_action(HELPFUL, answer_id, "CREPL", fake.response_url("vote")))
    [thanks] = fake.wait_for(lambda: fake.responses("vote"))
    assert "recorded" in thanks["text"]
    counts = f"{a.env['QA_CORPUS']}\t1 helpful\t0 not helpful\t100% helpful"
    assert a.cli("feedback").splitlines()[0] == counts
    assert b.cli("feedback").splitlines()[0] == counts


def test_a_question_whose_replica_is_killed_mid_answer_is_answered_once_by_the_others_sweeper_with_no_retry(deployment):
    """Slack has A's acknowledgement, so it never retries: only B's sweeper can answer."""
    timeout = 3.0
    with FakeOpenAI(Step(delay=600), citing(SHOIGU_SENTENCE, "Shoigu asked him to explain [P].")) as model:
        llm = {"QA_LLM": "openai:gpt-4o-mini", "QA_LLM_BASE_URL": model.base_url, "QA_LLM_API_KEY": "sk-test",
               "QA_LLM_TIMEOUT": "600", "QA_STATE_CLAIM_TIMEOUT": str(timeout)}
        a, b = deployment("a", **llm), deployment("b", **llm)
        fake, url = deployment.fake, deployment.state_url
        mention = app_mention(QUESTION, "CKILL")
        a.event(mention, "Ev0KILLED")  # answered 200: the only delivery Slack makes
        fake.wait_for(lambda: model.requests)  # A is waiting for its model: mid-answer
        first = claim_row(url, "Ev0KILLED")
        # While A lives it renews its claim: past the timeout, B's sweeper has left it alone.
        renewed = fake.wait_for(lambda: (row := claim_row(url, "Ev0KILLED")).claimed_at > first.claimed_at + timeout
                                and row)
        assert renewed.claimed_by == first.claimed_by and renewed.claimed_by.startswith(held_by(a))
        assert not renewed.done and len(model.requests) == 1

        a.process.send_signal(signal.SIGKILL)
        a.process.wait(timeout=30)
        killed = time.monotonic()
        assert fake.wait_for(lambda: finished(url, "Ev0KILLED"), timeout=60).startswith(held_by(b))
        # Bounded: the timeout since A's last renewal, one sweep interval, and B's answer.
        assert time.monotonic() - killed < timeout + 30
        [answer] = fake.posts("CKILL")
        assert answer["thread_ts"] == mention["ts"]
        edits = [c.body for c in fake.calls_about("CKILL") if c.method == "chat.update"]
        assert SHOIGU_SENTENCE in json.dumps((edits or [answer])[-1]["blocks"])
        assert len(model.requests) == 2  # A's, cut short by the kill, and B's
        assert claim_row(url, "Ev0KILLED").attempts == 2
    log = (deployment.logs / "b.log").read_text()
    assert "event Ev0KILLED (mention): no answer within 3 s of its last sign of life; answering it here" in log
    assert QUESTION not in log
