"""The real Bolt app over HTTP, driven with signed requests in Slack's payload shapes,
against a fake Slack Web API that records every call. The chain, the model and Chroma
are real."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from bot.slack.app import AnsweringPool, create_app
from bot.slack.server import asgi_app, warm
from bot.slack.state import SlackState
from retrieval.engine import Engine
from retrieval.ingest.pipeline import ingest
from retrieval.settings import Settings
from tests.support.ports import free_port, wait_for_heartbeat
from tests.support.seed import SEED_CORPUS, SHOIGU_SENTENCE
from tests.support.slack_fake import (
    BOT_ID,
    BOT_USER,
    FakeSlack,
    app_mention,
    block_action,
    event_callback,
    message,
    new_ts,
    post_signed,
    slash_command,
)

pytestmark = pytest.mark.integration

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-1234-5678-SECRETtokenVALUE"
HOSTILE_TEXT = ("The fire drill starts at noon on Friday, says <!channel> and <@U123>; "
                "details at <https://evil.example|click here>.")
# One sentence of 2,900 characters that escaping makes about 4,000: cut before escaping, it breaks Slack's limit.
LONG_TEXT = "The R&D budget review covers " + ", ".join(f"<lab {i}> & <team {i}>" for i in range(140)) + ".\n"


@dataclass
class World:
    url: str
    fake: FakeSlack
    settings: Settings
    answering: AnsweringPool

    def event(self, event: dict, event_id: str | None = None, headers: dict | None = None, **envelope) -> httpx.Response:
        body = json.dumps({**event_callback(event, event_id), **envelope})
        return post_signed(self.url, body, "application/json", SECRET, headers=headers)

    def form(self, fields: dict) -> httpx.Response:
        return post_signed(self.url, urllib.parse.urlencode(fields), "application/x-www-form-urlencoded", SECRET)

    def action(self, payload: dict) -> httpx.Response:
        return self.form({"payload": json.dumps(payload)})

    def settle(self) -> None:
        """Returns once the app has finished with every request acknowledged so far: the
        answering pool is idle (work is handed to it before the ack is sent)."""
        assert self.answering.wait_idle(60), "the app was still answering after 60 s"


def run_app(settings: Settings, engine: Engine, answering: AnsweringPool | None = None):
    """The app under uvicorn in a thread, on a free port (another try if the port was taken)."""
    app = create_app(settings, engine, answering=answering)
    for _ in range(5):
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(asgi_app(app, engine), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if server.started:
            return server, thread, f"http://127.0.0.1:{port}"
        server.should_exit = True
    raise RuntimeError("could not start the app under uvicorn")


@pytest.fixture(scope="module")
def world(tmp_path_factory, model_cache):
    root = tmp_path_factory.mktemp("slack")
    (root / "hostile").mkdir()
    (root / "hostile" / "notice.txt").write_text(HOSTILE_TEXT + "\n\nThe canteen is closed on Monday.\n")
    (root / "long").mkdir()
    (root / "long" / "budget.txt").write_text(LONG_TEXT)
    fake = FakeSlack()
    settings = Settings(data_dir=root / "data", model_cache=model_cache, slack_api_url=fake.api_url,
                        slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET, slack_channel_corpora="CHOSTILE=hostile,CLONG=long")
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    ingest([str(root / "hostile")], "hostile", settings, progress=False)
    ingest([str(root / "long")], "long", settings.model_copy(update={"window_chars": 5000}), progress=False)
    with serving(settings, fake) as world:
        yield world


@contextmanager
def serving(settings: Settings, fake: FakeSlack) -> Iterator[World]:
    """The app warmed and served for `settings`, talking to `fake`; both stopped after."""
    engine = Engine(settings)
    warm(engine, settings)
    answering = AnsweringPool()
    server, thread, base = run_app(settings, engine, answering)
    try:
        yield World(f"{base}/slack/events", fake, settings, answering)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        fake.close()


def channel() -> str:
    return "C" + uuid.uuid4().hex[:10].upper()


def assert_ignored(world: World, c: str) -> None:
    """Once the app has finished with everything it acknowledged, it made no call about `c`."""
    world.settle()
    assert world.fake.calls_about(c) == []


def all_text(post: dict) -> str:
    blocks = post["blocks"] if isinstance(post["blocks"], list) else json.loads(post["blocks"])
    return json.dumps(blocks)


def test_a_mention_is_answered_in_its_thread_with_the_quote_and_source(world):
    c = channel()
    event = app_mention("what did Shoigu ask Wallace?", c)
    started = time.monotonic()
    response = world.event(event)
    assert response.status_code == 200 and time.monotonic() - started < 3
    [post] = world.fake.wait_for(lambda: world.fake.posts(c))
    assert post["thread_ts"] == event["ts"]
    assert SHOIGU_SENTENCE in all_text(post)
    assert "wallace-shoigu-2022-02-11.txt" in all_text(post) and "2022-02-11" in all_text(post)
    assert "Helpful" in all_text(post) and "Not helpful" in all_text(post)
    reactions = [x.body for x in world.fake.calls if x.method.startswith("reactions.") and x.body.get("channel") == c]
    assert [r["name"] for r in reactions] == ["eyes", "eyes"]  # shown at once, removed when answered


def test_a_question_the_corpus_does_not_cover_gets_an_honest_reply(world):
    c = channel()
    world.event(app_mention("What is the population of Moscow?", c))
    [post] = world.fake.wait_for(lambda: world.fake.posts(c))
    assert "does not cover" in post["text"]
    assert "characters" not in all_text(post)  # no citation


def test_a_direct_message_is_answered_in_the_dm(world):
    dm = "D" + uuid.uuid4().hex[:10].upper()
    world.event(message("What would Russia like to avoid?", dm, "im"))
    [post] = world.fake.wait_for(lambda: world.fake.posts(dm))
    assert "thread_ts" not in post or post["thread_ts"] is None
    assert "this is something we would like to avoid" in all_text(post)


def test_the_assistant_panel_offers_prompts_shows_status_and_answers_in_thread(world):
    dm, thread = "D" + uuid.uuid4().hex[:10].upper(), new_ts()
    world.event({"type": "assistant_thread_started", "event_ts": new_ts(),
                 "assistant_thread": {"user_id": "U0ASKER", "channel_id": dm, "thread_ts": thread,
                                      "context": {"channel_id": "C0CONTEXT", "team_id": "T0TEAM", "enterprise_id": None}}})
    world.fake.wait_for(lambda: world.fake.posts(dm) and world.fake.posts(method="assistant.threads.setSuggestedPrompts"))
    prompts = [b for b in world.fake.posts(method="assistant.threads.setSuggestedPrompts") if b.get("channel_id") == dm]
    assert "What did Shoigu ask Wallace?" in json.dumps(prompts)
    world.event(message("What did Shoigu ask Wallace?", dm, "im", thread_ts=thread))
    posts = world.fake.wait_for(lambda: len(world.fake.posts(dm)) >= 2 and world.fake.posts(dm))
    statuses = [b for b in world.fake.posts(method="assistant.threads.setStatus") if b.get("channel_id") == dm]
    assert statuses and statuses[0]["status"] == "searching the corpus 'default'..."
    assert "Searched the corpus 'default'" in all_text(posts[-1])
    assert posts[-1]["thread_ts"] == thread and SHOIGU_SENTENCE in all_text(posts[-1])


def test_ask_command_answers_privately_with_a_button_to_post_it(world):
    c = channel()
    response = world.form(slash_command("What did Shoigu ask Wallace?", c, world.fake.response_url(c)))
    assert response.status_code == 200
    [private] = world.fake.wait_for(lambda: world.fake.responses(c))
    assert private["response_type"] == "ephemeral" and SHOIGU_SENTENCE in json.dumps(private["blocks"])
    assert world.fake.posts(c) == []  # nothing public yet
    answer_id = _button_value(private["blocks"], "post_answer")
    world.action(block_action("post_answer", answer_id, c, world.fake.response_url(c + "-click")))
    [public] = world.fake.wait_for(lambda: world.fake.posts(c))
    assert SHOIGU_SENTENCE in all_text(public) and "U0ASKER" in all_text(public)
    world.fake.wait_for(lambda: world.fake.responses(c + "-click"))
    assert world.fake.responses(c + "-click")[0].get("delete_original") is True


def test_a_follow_up_in_the_thread_is_answered_in_its_context(world):
    c = channel()
    first = app_mention("What did Shoigu ask Wallace?", c)
    world.event(first)
    world.fake.wait_for(lambda: world.fake.posts(c))
    world.event(message("and what did Wallace reply?", c, "channel", thread_ts=first["ts"]))
    posts = world.fake.wait_for(lambda: len(world.fake.posts(c)) == 2 and world.fake.posts(c))
    assert posts[1]["thread_ts"] == first["ts"]
    assert SHOIGU_SENTENCE not in all_text(posts[1])  # not the same quote again
    assert "Wallace" in all_text(posts[1]) and "does not cover" not in posts[1]["text"]


def test_messages_in_threads_the_bot_never_answered_are_left_alone(world):
    c = channel()
    world.event(message("What did Shoigu ask Wallace?", c, "channel", thread_ts=new_ts()))
    assert_ignored(world, c)


def test_feedback_clicks_are_stored(world):
    c = channel()
    world.event(app_mention("What would Russia like to avoid?", c))
    [post] = world.fake.wait_for(lambda: world.fake.posts(c))
    answer_id = _button_value(post["blocks"], "feedback_not_helpful")
    response = world.action(block_action("feedback_not_helpful", answer_id, c, world.fake.response_url(c)))
    assert response.status_code == 200
    [thanks] = world.fake.wait_for(lambda: world.fake.responses(c))
    assert "recorded" in thanks["text"] and thanks["response_type"] == "ephemeral"
    rows = [r for r in SlackState.in_data_dir(world.settings.data_dir).feedback_rows() if r["channel"] == c]
    assert len(rows) == 1
    row = rows[0]
    assert row["helpful"] == 0 and row["user"] == "U0ASKER" and row["question"] == "What would Russia like to avoid?"
    assert "would like to avoid" in row["answer"] and json.loads(row["citations"])[0]["source"].endswith(".txt")


def test_a_retried_event_is_answered_once(world):
    c = channel()
    event, event_id = app_mention("What did Shoigu ask Wallace?", c), f"Ev{uuid.uuid4().hex[:10]}"
    assert world.event(event, event_id).status_code == 200
    retry = world.event(event, event_id, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status_code == 200
    world.settle()
    assert len(world.fake.posts(c)) == 1


@pytest.mark.parametrize("problem", ["wrong secret", "stale timestamp", "no signature"])
def test_unsigned_or_stale_requests_are_rejected_and_nothing_is_posted(world, problem):
    c = channel()
    body = json.dumps(event_callback(app_mention("What did Shoigu ask Wallace?", c)))
    if problem == "wrong secret":
        response = post_signed(world.url, body, "application/json", "not-the-secret")
    elif problem == "stale timestamp":
        response = post_signed(world.url, body, "application/json", SECRET, timestamp=int(time.time()) - 600)
    else:
        response = httpx.post(world.url, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    assert_ignored(world, c)


@pytest.mark.parametrize("who", ["own", "other bot", "bot_message subtype", "edit", "join"])
def test_bots_edits_and_joins_are_ignored(world, who):
    c = "D" + uuid.uuid4().hex[:10].upper()
    event = {
        "own": message("What did Shoigu ask Wallace?", c, "im", user=BOT_USER, bot_id=BOT_ID),
        "other bot": message("What did Shoigu ask Wallace?", c, "im", user="U0OTHERBOT", bot_id="B0OTHER"),
        "bot_message subtype": message("What did Shoigu ask Wallace?", c, "im", user=None, subtype="bot_message", bot_id="B0OTHER"),
        "edit": message("", c, "im", user=None, subtype="message_changed",
                        message={"type": "message", "user": "U0ASKER", "text": "What did Shoigu ask Wallace?", "ts": new_ts()}),
        "join": message("<@U0ASKER> has joined the channel", c, "channel", subtype="channel_join"),
    }[who]
    assert world.event(event).status_code == 200
    assert_ignored(world, c)


def test_mentions_and_links_inside_a_passage_notify_nobody(world):
    world.event(app_mention("When does the fire drill start?", "CHOSTILE"))
    [post] = world.fake.wait_for(lambda: world.fake.posts("CHOSTILE"))
    text = all_text(post) + post["text"]
    assert "fire drill starts at noon" in text
    assert "&lt;!channel&gt;" in text and "&lt;@U123&gt;" in text and "&lt;https://evil.example|click here&gt;" in text
    assert "<!channel>" not in text and "<@U123>" not in text and "<https://evil" not in text


def text_objects(blocks: list[dict]):
    for block in blocks:
        yield from [block["text"]] if "text" in block else []
        yield from [e for e in block.get("elements", []) if e.get("type") in ("mrkdwn", "plain_text")]


def test_a_passage_full_of_markup_is_quoted_escaped_within_the_quote_limit_and_slack_accepts_it(world):
    world.event(app_mention("What does the R&D budget review cover?", "CLONG"))
    world.settle()
    [post] = world.fake.posts("CLONG")  # accepted: the fake answers invalid_blocks past Slack's limits
    [quote] = [o["text"] for o in text_objects(post["blocks"]) if o["text"].startswith("> ")]
    assert "&amp;" in quote and "&lt;lab 1&gt;" in quote and "<lab" not in quote
    assert len(quote.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")) <= 2 + 400  # "> " + the quote
    assert all(o.get("verbatim") is True for o in text_objects(post["blocks"]) if o["type"] == "mrkdwn")


def test_text_past_slacks_limit_is_escaped_then_cut_never_inside_an_entity():
    """A model's answer text has no 400-character cap: the section is escaped first, then cut
    to Slack's 3,000 characters, and never in the middle of &amp;."""
    from bot.slack.blocks import SECTION_LIMIT, answer_blocks
    from retrieval.types import Answer, Citation

    text = LONG_TEXT.strip()
    citation = Citation("default", "long.txt", "Long", None, 0, 40, text[:40], 1.0)
    blocks = answer_blocks(Answer("q?", text, False, [citation], mode="llm"), "a1")
    [section] = [o["text"] for o in text_objects(blocks[:1])]
    assert len(section) <= SECTION_LIMIT and section.endswith("…") and "&lt;lab 1&gt;" in section
    assert not any(section[:-1].endswith(partial) for partial in ("&", "&a", "&am", "&l", "&lt", "&g", "&gt"))


def test_a_rate_limit_is_waited_out_and_the_answer_delivered_once(world):
    c = channel()
    world.fake.script("chat.postMessage", c, (429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"}))
    world.event(app_mention("What did Shoigu ask Wallace?", c))
    world.fake.wait_for(lambda: world.fake.posts(c), timeout=30)
    world.settle()  # a second copy after the retry would be posted by now
    [post] = world.fake.posts(c)
    limited = [x for x in world.fake.calls if x.method == "chat.postMessage" and x.status == 429]
    assert len(limited) == 1 and limited[0].body["channel"] == c
    assert SHOIGU_SENTENCE in all_text(post)


def test_a_failing_chain_becomes_an_apology_and_the_token_never_leaks(tmp_path, caplog):
    """The Chroma server goes away while the bot runs: the user gets a short apology, the
    log gets the error, and neither holds the token or the signing secret, at any level."""
    port = free_port()
    chroma = subprocess.Popen([str(Path(sys.executable).with_name("chroma")), "run", "--path", str(tmp_path / "db"),
                               "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    fake = FakeSlack()
    try:
        wait_for_heartbeat(port)
        settings = Settings(data_dir=tmp_path / "data", chroma_host="127.0.0.1", chroma_port=port, slack_api_url=fake.api_url,
                            slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET)
        ingest([str(SEED_CORPUS)], "default", settings, progress=False)
        engine = Engine(settings)
        server, thread, base = run_app(settings, engine)
        chroma.terminate()
        chroma.wait(timeout=30)
        c = channel()
        with caplog.at_level(logging.DEBUG):
            body = json.dumps(event_callback(app_mention("What did Shoigu ask Wallace?", c)))
            assert post_signed(f"{base}/slack/events", body, "application/json", SECRET).status_code == 200
            [post] = fake.wait_for(lambda: fake.posts(c))
        assert post["text"].startswith("Sorry, something went wrong") and post["thread_ts"]
        assert "Chroma" not in post["text"] and BOT_TOKEN not in json.dumps(post) and SECRET not in json.dumps(post)
        assert "answering failed" in caplog.text
        assert BOT_TOKEN not in caplog.text and SECRET not in caplog.text
        health = httpx.get(f"{base}/health")
        assert health.status_code == 503
        server.should_exit = True
        thread.join(timeout=10)
    finally:
        chroma.kill()
        fake.close()


def test_health_endpoint_reports_ok(world):
    response = httpx.get(world.url.replace("/slack/events", "/health"))
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_oversized_and_malformed_requests_are_refused_without_a_5xx(world):
    big = "x" * 2_000_000
    assert httpx.post(world.url, content=big, headers={"Content-Type": "application/json"}).status_code == 413

    def chunked():  # no Content-Length: the limit still holds
        for _ in range(40):
            yield b"y" * 100_000

    assert httpx.post(world.url, content=chunked(), headers={"Content-Type": "application/json"}).status_code == 413
    garbage = post_signed(world.url, "{not json", "application/json", SECRET)
    assert garbage.status_code == 400


def test_slack_markup_in_a_question_is_read_as_plain_text_and_escaped_once(world):
    c = channel()
    response = world.form(slash_command("What would Russia like to avoid? R&amp;D &lt;b&gt;", c, world.fake.response_url(c)))
    assert response.status_code == 200
    [private] = world.fake.wait_for(lambda: world.fake.responses(c))
    world.action(block_action("post_answer", _button_value(private["blocks"], "post_answer"), c, world.fake.response_url(c + "-x")))
    [public] = world.fake.wait_for(lambda: world.fake.posts(c))
    assert "R&amp;D &lt;b&gt;" in all_text(public) and "&amp;amp;" not in all_text(public)


def _button_value(blocks, action_id: str) -> str:
    blocks = blocks if isinstance(blocks, list) else json.loads(blocks)
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return element["value"]
    raise AssertionError(f"no {action_id} button in {blocks}")
