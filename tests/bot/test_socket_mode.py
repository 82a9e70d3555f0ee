"""`qa serve` in Socket Mode (SLACK_APP_TOKEN set), a separate process, against a local
WebSocket server speaking Slack's Socket Mode protocol: apps.connections.open on the fake
Web API hands out its ws:// URL, `hello`, envelopes acked by envelope_id, and `disconnect`
with a reconnect. The model, chain and Chroma are real; the answer is slow (a scripted
OpenAI-compatible model held until the test lets it reply) so the disconnect lands mid-answer."""

import json
import os
import subprocess
import sys
import threading

import pytest

from tests.support.openai_fake import FakeOpenAI, Step, citing
from tests.support.seed import ROOT, SEED_CORPUS, SHOIGU_SENTENCE
from tests.support.slack_fake import FakeSlack, FakeSocketMode, app_mention, event_callback, slash_command

pytestmark = pytest.mark.integration
APP_TOKEN = "xapp-1-socket-test-SECRET"
TOKEN = "xoxb-socket-test-SECRET"


def test_socket_mode_answers_a_mention_and_an_ask_once_across_a_retry_and_a_disconnect(tmp_path):
    fake = FakeSlack()
    sockets = FakeSocketMode(fake, APP_TOKEN)
    held = threading.Event()  # the mention's answer waits for it: the disconnect lands mid-answer
    with FakeOpenAI(Step(gate=held), citing(SHOIGU_SENTENCE, "Shoigu asked him to explain [P].")) as model:
        env = {**os.environ, "QA_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT),
               "SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": APP_TOKEN,
               "QA_LLM": "openai:gpt-4o-mini", "QA_LLM_BASE_URL": model.base_url, "QA_LLM_API_KEY": "sk-test"}
        env.pop("SLACK_SIGNING_SECRET", None)
        subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(SEED_CORPUS)], env=env, check=True, capture_output=True)
        log = open(tmp_path / "serve.log", "w")
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            fake.wait_for(lambda: sockets.connections or process.poll() is not None, timeout=180)
            assert process.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            opened = [c for c in fake.calls if c.method == "apps.connections.open"]
            assert len(opened) == 2 and sockets.paths == ["/link/2"]  # the start-up check's URL is never opened

            mention = event_callback(app_mention("What did Shoigu ask Wallace?", "CSOCKET"), "Ev0SOCKET")
            first = sockets.send("events_api", mention)
            assert fake.wait_for(lambda: sockets.acked(first))["envelope_id"] == first
            fake.wait_for(lambda: model.requests)  # the answer is being worked out...
            retry = sockets.send("events_api", mention, retry_attempt=1)
            fake.wait_for(lambda: sockets.acked(retry))  # a retry is acked like any envelope
            sockets.disconnect()  # ...when Slack refreshes the connection
            fake.wait_for(lambda: len(sockets.connections) == 2)
            assert sockets.paths == ["/link/2", "/link/3"]
            assert fake.posts("CSOCKET") == []  # still answering
            held.set()

            ask = sockets.send("slash_commands", slash_command("What did Shoigu ask Wallace?", "CSOCKET",
                                                               fake.response_url("ask")))
            assert fake.wait_for(lambda: sockets.acked(ask))
            [answer] = fake.wait_for(lambda: fake.responses("ask"))
            assert SHOIGU_SENTENCE in json.dumps(answer["blocks"])

            [post] = fake.wait_for(lambda: fake.posts("CSOCKET"))  # the mention's answer, posted after the refresh
            fake.wait_for(lambda: [c for c in fake.calls_about("CSOCKET") if c.method == "reactions.remove"])
            edits = [c.body for c in fake.calls_about("CSOCKET") if c.method == "chat.update"]
            assert SHOIGU_SENTENCE in json.dumps((edits or [post])[-1]["blocks"])
            assert len(fake.posts("CSOCKET")) == 1 and len(model.requests) == 2  # the mention's and the /ask's
        finally:
            process.terminate()
            process.wait(timeout=30)
            sockets.close()
            fake.close()
    text = (tmp_path / "serve.log").read_text()
    assert "serving Slack over Socket Mode" in text and TOKEN not in text and APP_TOKEN not in text


def test_a_socket_mode_token_revoked_after_the_checks_ends_serve_with_one_line(tmp_path):
    fake = FakeSlack()
    sockets = FakeSocketMode(fake, APP_TOKEN)
    # The start-up check's call is accepted; by the connection's own call the token is revoked.
    fake.script("apps.connections.open", None, (200, {}, {"ok": True, "url": sockets.new_url()}),
                (200, {}, {"ok": False, "error": "invalid_auth"}))
    env = {**os.environ, "QA_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT),
           "SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}
    env.pop("SLACK_SIGNING_SECRET", None)
    try:
        subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(SEED_CORPUS)], env=env, check=True, capture_output=True)
        result = subprocess.run([sys.executable, "-m", "bot.cli", "serve"], env=env, capture_output=True, text=True, timeout=300)
    finally:
        fake.close()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Error: Slack refused the Socket Mode connection (invalid_auth); check SLACK_APP_TOKEN" in result.stderr
    assert APP_TOKEN not in result.stderr + result.stdout and sockets.connections == []
