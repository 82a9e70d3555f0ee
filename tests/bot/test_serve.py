"""`qa serve` as a user runs it: a separate process, HTTP mode, model loaded at start-up."""

import json
import os
import subprocess
import sys
import time
import urllib.parse

import pytest

from tests.support.ports import free_port
from tests.support.seed import ROOT, SEED_CORPUS, SHOIGU_SENTENCE
from tests.support.serving import start_serve as launch_serve
from tests.support.slack_fake import FakeSlack, app_mention, event_callback, message, post_signed, slash_command

pytestmark = pytest.mark.integration
SECRET = "serve-test-signing-secret"
TOKEN = "xoxb-serve-test-SECRET"


def start_serve(tmp_path, fake, port, extra_env=None):
    env = {**os.environ, "QA_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT),
           "SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, **(extra_env or {})}
    subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(SEED_CORPUS)], env=env, check=True, capture_output=True)
    return launch_serve(env, port, open(tmp_path / "serve.log", "w"))


def test_qa_serve_answers_a_signed_mention_and_logs_no_token(tmp_path):
    fake, port = FakeSlack(), free_port()
    process = start_serve(tmp_path, fake, port)
    try:
        body = json.dumps(event_callback(app_mention("What did Shoigu ask Wallace?", "CSERVE")))
        started = time.monotonic()
        response = post_signed(f"http://127.0.0.1:{port}/slack/events", body, "application/json", SECRET)
        assert response.status_code == 200 and time.monotonic() - started < 3
        [post] = fake.wait_for(lambda: fake.posts("CSERVE"))
        assert SHOIGU_SENTENCE in json.dumps(post["blocks"])
    finally:
        process.terminate()
        process.wait(timeout=30)
        fake.close()
    log = (tmp_path / "serve.log").read_text()
    assert "serving Slack over HTTP" in log and TOKEN not in log


def test_qa_serve_listens_where_the_env_file_says(tmp_path):
    fake, port = FakeSlack(), free_port()
    (tmp_path / ".env").write_text(f"QA_SERVE_HOST=127.0.0.1\nQA_SERVE_PORT={port}\nSLACK_SIGNING_SECRET={SECRET}\n")
    env = {key: value for key, value in os.environ.items() if key not in ("QA_SERVE_HOST", "QA_SERVE_PORT", "SLACK_SIGNING_SECRET")}
    env |= {"QA_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT),
            "SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": TOKEN}
    subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(SEED_CORPUS)], env=env, check=True, capture_output=True)
    process = launch_serve(env, port, open(tmp_path / "serve.log", "w"), flags=False, cwd=tmp_path)
    try:
        body = json.dumps(event_callback(app_mention("What did Shoigu ask Wallace?", "CDOTENV")))
        assert post_signed(f"http://127.0.0.1:{port}/slack/events", body, "application/json", SECRET).status_code == 200
        fake.wait_for(lambda: fake.posts("CDOTENV"))
    finally:
        process.terminate()
        process.wait(timeout=30)
        fake.close()
    assert f"on 127.0.0.1:{port}" in (tmp_path / "serve.log").read_text()


def test_qa_serve_refuses_http_mode_without_a_signing_secret(tmp_path):
    fake = FakeSlack()  # the start-up checks call auth.test: keep it on loopback
    env = {**os.environ, "QA_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": TOKEN,
           "SLACK_API_URL": fake.api_url}
    env.pop("SLACK_SIGNING_SECRET", None)
    env.pop("SLACK_APP_TOKEN", None)
    try:
        result = subprocess.run([sys.executable, "-m", "bot.cli", "serve"], env=env, capture_output=True, text=True, cwd=tmp_path)
    finally:
        fake.close()
    assert result.returncode == 1
    assert "SLACK_SIGNING_SECRET" in result.stderr and "Traceback" not in result.stderr


def test_qa_serve_with_an_access_file_answers_the_admitted_and_refuses_the_rest(tmp_path):
    """The check an operator runs: signed events to `qa serve` with QA_SLACK_ACCESS set."""
    access = tmp_path / "access.toml"
    access.write_text('contact = "#it-help"\n[default]\ncorpus = "default"\nusers = ["U0ALLOWED"]\n'
                      '[channels.CLISTED]\ncorpus = "default"\n')
    fake, port = FakeSlack(), free_port()
    process = start_serve(tmp_path, fake, port, {"QA_SLACK_ACCESS": str(access)})
    url = f"http://127.0.0.1:{port}/slack/events"

    def send(event: dict) -> None:
        assert post_signed(url, json.dumps(event_callback(event)), "application/json", SECRET).status_code == 200

    try:
        send(app_mention("What did Shoigu ask Wallace?", "CLISTED", user="U0ALLOWED"))
        [post] = fake.wait_for(lambda: fake.posts("CLISTED"))
        assert SHOIGU_SENTENCE in json.dumps(post["blocks"])

        send(message("What did Shoigu ask Wallace?", "D0STRANGER", "im", user="U0STRANGER"))
        [refusal] = fake.wait_for(lambda: fake.posts("D0STRANGER"))
        assert "closed to you" in refusal["text"] and SHOIGU_SENTENCE not in json.dumps(refusal)

        guest = app_mention("What did Shoigu ask Wallace?", "CLISTED", user="U0GUEST")
        guest["team"] = guest["user_team"] = "T0ELSEWHERE"
        send(guest)
        [line] = fake.wait_for(lambda: fake.posts("CLISTED", method="chat.postEphemeral"))
        assert line["user"] == "U0GUEST" and "outside this workspace" in line["text"]

        access.write_text('contact = "#it-help"\n[default]\n[channels.CLISTED]\ncorpus = "default"\n')  # no [default] corpus
        form = urllib.parse.urlencode(slash_command("What did Shoigu ask Wallace?", "CUNLISTED", fake.response_url("ask")))
        assert post_signed(url, form, "application/x-www-form-urlencoded", SECRET).status_code == 200
        [answer] = fake.wait_for(lambda: fake.responses("ask"))
        assert "no corpus is open" in answer["text"] and SHOIGU_SENTENCE not in json.dumps(answer)
        assert len(fake.posts("CLISTED")) == 1  # the guest got nothing public
    finally:
        process.terminate()
        process.wait(timeout=30)
        fake.close()
