"""The Chroma server fails under a running bot: down, restarted on the same port, or
stalled. The user gets one clear line (CLI) or a short apology (Slack), nothing hangs past
QA_CHROMA_TIMEOUT, and the same bot answers again as soon as the server does."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from slack_sdk import WebClient

from bot.cli import cli
from bot.slack.access import AccessControl, Admission
from bot.slack.replies import APOLOGY, Replier
from bot.slack.state import SlackState
from bot.slack.workspaces import OneWorkspace
from retrieval.engine import Engine
from retrieval.errors import StoreUnavailable
from retrieval.ingest.pipeline import ingest
from retrieval.settings import Settings
from tests.support.ports import free_port, wait_for_heartbeat
from tests.support.seed import SEED_CORPUS, SHOIGU_SENTENCE

pytestmark = [pytest.mark.integration, pytest.mark.server]
QUESTION = "What did Shoigu ask Wallace?"


def start_chroma(path: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen([str(Path(sys.executable).with_name("chroma")), "run", "--path", str(path),
                                "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_heartbeat(port)
    return process


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=30)


def test_a_restarted_server_is_reconnected_to_without_restarting_the_bot(tmp_path):
    port = free_port()
    server = start_chroma(tmp_path / "db", port)
    try:
        settings = Settings(data_dir=tmp_path / "data", chroma_host="127.0.0.1", chroma_port=port)
        ingest([str(SEED_CORPUS)], "default", settings, progress=False)
        stop(server)

        engine = Engine(settings)  # the bot starts while the store is down...
        replier = Replier(engine, SlackState.in_data_dir(settings.data_dir), settings,
                          AccessControl(settings, OneWorkspace(WebClient())))
        everyone = Admission(settings.corpus)  # no access file: the default corpus for all
        with pytest.raises(StoreUnavailable, match=f"cannot reach the Chroma server at 127.0.0.1:{port}"):
            engine.answer(QUESTION)
        assert replier.reply(QUESTION, everyone, "CDOWN", None).text == APOLOGY
        server = start_chroma(tmp_path / "db", port)
        assert SHOIGU_SENTENCE in engine.answer(QUESTION).citations[0].quote  # ...and connects once it is up

        stop(server)  # goes away under a warm bot (cached client, retriever, lexical index)
        with pytest.raises(StoreUnavailable, match="cannot reach the Chroma server"):
            engine.answer(QUESTION)  # a clear error, not a raw httpx one from the vector search
        assert replier.reply(QUESTION, everyone, "CDOWN", None).text == APOLOGY
        server = start_chroma(tmp_path / "db", port)  # restarted on the same port
        assert SHOIGU_SENTENCE in engine.answer(QUESTION).citations[0].quote
        assert SHOIGU_SENTENCE in replier.reply(QUESTION, everyone, "CUP", None).text
    finally:
        server.kill()
        server.wait()


class StallingProxy:
    """A loopback TCP relay to the Chroma server. While `stalled` is set it holds every byte
    back: a server that accepted the connection and went quiet."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.stalled = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                while self.stalled.is_set():
                    time.sleep(0.02)
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


def returns_within(seconds: float, call):
    """call() in a thread: fails the test (rather than hanging it) if it has not returned in time."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the test below
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_a_stalled_server_fails_a_question_within_the_timeout_then_answers_again(server_env, tmp_path, monkeypatch):
    _, port = server_env
    corpus = f"slow-{uuid.uuid4().hex[:8]}"
    ingest([str(SEED_CORPUS)], corpus, Settings(data_dir=tmp_path / "ingester"), progress=False)
    proxy = StallingProxy(port)
    try:
        settings = Settings(data_dir=tmp_path / "bot", chroma_port=proxy.port, chroma_timeout=1, corpus=corpus)
        engine = Engine(settings)
        assert SHOIGU_SENTENCE in engine.answer(QUESTION).citations[0].quote

        proxy.stalled.set()
        with pytest.raises(StoreUnavailable, match=rf"127.0.0.1:{proxy.port} did not answer within 1 s; .* QA_CHROMA_TIMEOUT"):
            returns_within(5, lambda: engine.answer(QUESTION))

        monkeypatch.setenv("CHROMA_PORT", str(proxy.port))
        monkeypatch.setenv("QA_CHROMA_TIMEOUT", "1")
        result = returns_within(5, lambda: CliRunner().invoke(cli, ["ask", QUESTION, "--corpus", corpus]))
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert result.output.strip().splitlines() == [
            (f"Error: the Chroma server at 127.0.0.1:{proxy.port} did not answer within 1 s; check that it is not "
             "overloaded, or raise QA_CHROMA_TIMEOUT")]

        proxy.stalled.clear()
        assert SHOIGU_SENTENCE in engine.answer(QUESTION).citations[0].quote  # the same engine, once it answers
    finally:
        proxy.stalled.clear()
        proxy.close()
