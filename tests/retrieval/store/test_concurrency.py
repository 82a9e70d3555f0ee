"""Several processes on one index. Embedded: one process at a time; an ingest next to a
running `qa chat` refuses in one line naming the fix (next to `qa serve`, the bot does the
ingest: tests/bot/test_handoff.py), a short command waits its turn, a killed holder leaves
no lock behind. Server: ingests of one corpus take turns (a lease in the
server), and a running bot sees every change without a restart."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import uuid

import pytest

from retrieval.engine import Engine
from retrieval.errors import CorpusNotFound
from retrieval.ingest.pipeline import ingest
from retrieval.settings import Settings
from retrieval.store.client import close_client, open_client
from retrieval.store.corpus import remove_corpus
from retrieval.store.lease import Lease
from retrieval.store.naming import lease_collection
from retrieval.store.process_lock import Holder, StoreBusy
from tests.support.index_checks import audit, problems, qa_env, squad_documents
from tests.support.seed import ROOT, SEED_CORPUS, SEED_FILE, SHOIGU_SENTENCE

pytestmark = pytest.mark.integration

HOLDER = """
import sys, time
from retrieval.settings import Settings
from retrieval.store.client import close_client, open_client
client = open_client(Settings())
print("held", flush=True)
sys.stdin.readline()  # until told to let go (or its stdin closes)
close_client(client)
print("released", flush=True)
time.sleep(600)
"""


def hold_store_in_another_process(settings: Settings) -> subprocess.Popen:
    """A process that opens the embedded store and keeps it until a line reaches its stdin,
    then lets go (and lives on)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], env=qa_env(settings),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


# -- embedded: one process at a time -----------------------------------------------------------


def test_ingest_next_to_qa_chat_refuses_in_one_line_and_the_chat_keeps_answering(settings, tmp_path):
    """(Next to `qa serve`, the bot does the ingest instead: tests/bot/test_handoff.py.)"""
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    env = qa_env(settings)
    chat = subprocess.Popen([sys.executable, "-m", "bot.cli", "chat"], env=env, cwd=tmp_path, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert chat.stdout.readline().startswith("Asking corpus 'default'")  # warm: it holds the index
        (tmp_path / "new").mkdir()
        (tmp_path / "new" / "canteen.txt").write_text("The canteen serves lentil soup on Fridays.")
        # At once: with a lock wait of ten minutes, waiting for the chat would outlast the timeout.
        refused = subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(tmp_path / "new")],
                                 env={**env, "QA_LOCK_WAIT": "600"}, capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert refused.returncode == 1
        [line] = refused.stderr.strip().splitlines()
        assert f"in use by `qa chat` (pid {chat.pid})" in line and "one process at a time" in line
        assert "stop it first" in line and "chroma run --path" in line and "CHROMA_HOST" in line and "CHROMA_PORT" in line

        answered, _ = chat.communicate("What did Shoigu ask Wallace?\nquit\n", timeout=60)
        assert chat.returncode == 0 and SHOIGU_SENTENCE[:50] in answered.replace("\n  > ", " ")
    finally:
        if chat.poll() is None:
            chat.kill()
            chat.wait()
    report = ingest([str(tmp_path / "new")], "default", settings, progress=False)  # the chat has ended
    assert report.added == [str(tmp_path / "new" / "canteen.txt")]
    assert problems(audit(settings, "default")) == {}


def test_a_short_command_waits_for_the_store_and_a_killed_holder_leaves_no_lock(settings):
    holder = hold_store_in_another_process(settings)
    try:
        with pytest.raises(StoreBusy, match=r"still in use by `python` \(pid \d+\) after waiting 0.2 s \(QA_LOCK_WAIT\)"):
            open_client(settings.model_copy(update={"lock_wait": 0.2}))
        waiting, opened = threading.Event(), []
        waiter = threading.Thread(target=lambda: opened.append(open_client(
            settings.model_copy(update={"lock_wait": 60}), Holder(on_wait=lambda _: waiting.set()))))
        waiter.start()
        assert waiting.wait(30) and not opened  # it waits for the holder...
        holder.stdin.write("let go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        waiter.join(60)
        [client] = opened  # ...and opens the store once it lets go
        close_client(client)
    finally:
        holder.kill()
        holder.wait()

    holder = hold_store_in_another_process(settings)
    holder.kill()  # SIGKILL while holding: the kernel drops the lock with the process
    holder.wait()
    close_client(open_client(settings.model_copy(update={"lock_wait": 0})))  # no wait allowed, none needed


def test_an_engine_that_closes_lets_another_process_in(settings):
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    engine = Engine(settings)
    assert not engine.answer("What did Shoigu ask Wallace?").abstained
    engine.close()
    holder = hold_store_in_another_process(settings)  # would wait for ever while the engine held it
    holder.kill()
    holder.wait()
    assert not engine.answer("What did Shoigu ask Wallace?").abstained  # opens the store again


# -- a running bot sees changes, in both modes -------------------------------------------------


@pytest.fixture(params=["embedded", "server"])
def two_machines(request, tmp_path):
    """The settings of a bot and of whoever ingests: the same process and folder (embedded,
    one process at a time), or two data directories sharing a Chroma server."""
    if request.param == "embedded":
        bot = Settings()
        return bot, bot
    request.getfixturevalue("server_env")
    return Settings(data_dir=tmp_path / "bot"), Settings(data_dir=tmp_path / "ingester")


def test_a_running_bot_sees_corpora_created_updated_removed_and_recreated(two_machines, tmp_path):
    bot_settings, ingester = two_machines
    corpus = f"live-{uuid.uuid4().hex[:8]}"
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SEED_FILE, docs / SEED_FILE.name)
    question = "What did Shoigu ask Wallace?"
    bot = Engine(bot_settings)
    with pytest.raises(CorpusNotFound):
        bot.answer(question, corpus=corpus)

    ingest([str(docs)], corpus, ingester, progress=False)  # created after the bot started
    assert SHOIGU_SENTENCE in bot.answer(question, corpus=corpus).citations[0].quote

    path = docs / SEED_FILE.name
    path.write_text(path.read_text().replace("special forces troops", "naval officers"))
    ingest([str(docs)], corpus, ingester, progress=False)  # updated
    quote = bot.answer(question, corpus=corpus).citations[0].quote
    assert "naval officers" in quote and "special forces" not in quote

    client = open_client(ingester)
    remove_corpus(client, ingester, corpus)  # removed
    close_client(client)
    with pytest.raises(CorpusNotFound):
        bot.answer(question, corpus=corpus)

    path.write_text("Shoigu asked Wallace for a cup of tea. Wallace declined politely.")
    ingest([str(docs)], corpus, ingester, progress=False)  # re-created, with other text
    assert "cup of tea" in bot.answer(question, corpus=corpus).citations[0].quote


# -- server: ingests of one corpus take turns --------------------------------------------------


@pytest.mark.server
def test_two_ingests_of_overlapping_files_at_once_store_every_passage_once(server_env, tmp_path):
    """Two `qa ingest` processes start together on overlapping folders; each also holds a copy
    of a file the other has (stored once, from one of them). Neither fails; the corpus has
    every document, no duplicated passage, and dense and lexical sides agree with it."""
    corpus = f"both-{uuid.uuid4().hex[:8]}"
    firsts = squad_documents(tmp_path / "all", documents=6, paragraphs=1, first=80)
    paths = sorted(firsts)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for path in paths[:4]:
        shutil.copy(path, tmp_path / "a")
    for path in paths[2:]:
        shutil.copy(path, tmp_path / "b")
    # Written first by each: the same text under two names, one in each folder.
    shutil.copy(paths[0], tmp_path / "a" / "a-copy.txt")
    shutil.copy(paths[0], tmp_path / "b" / "a-copy-too.txt")

    settings = Settings(data_dir=tmp_path / "data")
    env = qa_env(settings, QA_LOCK_WAIT="300")
    runs = [subprocess.Popen([sys.executable, "-m", "bot.cli", "ingest", str(tmp_path / side), "--corpus", corpus, "--json"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT) for side in "ab"]
    reports = []
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        reports.append(json.loads(out))
    found = audit(settings, corpus)
    assert problems(found) == {}
    assert sum(r["duplicate_passages"] for r in reports) >= 1  # the copies were seen as copies
    stored_names = {os.path.basename(p) for p in found["documents"]}
    assert {p.name for p in paths[1:]} <= stored_names
    assert len({paths[0].name, "a-copy.txt", "a-copy-too.txt"} & stored_names) == 1  # one text, three names


@pytest.mark.server
def test_a_lease_held_by_a_live_ingest_makes_the_next_wait_then_give_up(server_env, tmp_path):
    settings = Settings(data_dir=tmp_path / "d", lock_wait=0.5)
    corpus = f"lease-{uuid.uuid4().hex[:8]}"
    client = open_client(settings)
    with Lease(client, settings, corpus):
        busy = rf"corpus '{corpus}' is still being ingested by `.*` \(pid {os.getpid()}\)"
        with pytest.raises(StoreBusy, match=busy), Lease(client, settings, corpus):
            pass
    with Lease(client, settings, corpus):  # released: free again
        pass


@pytest.mark.server
def test_a_lease_whose_holder_died_or_stopped_beating_is_taken_over(server_env, tmp_path, monkeypatch):
    import socket

    from retrieval.store import lease

    settings = Settings(data_dir=tmp_path / "d", lock_wait=10)
    corpus = f"stale-{uuid.uuid4().hex[:8]}"
    client = open_client(settings)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    client.create_collection(lease_collection(corpus), embedding_function=None,
                             metadata={"host": socket.gethostname(), "pid": dead.pid, "command": "qa ingest", "beat": 0})
    waited: list[str] = []
    with Lease(client, settings.model_copy(update={"lock_wait": 0}), corpus, Holder(on_wait=waited.append)):
        assert waited == []  # its process is gone: taken over at once, with no wait allowed

    monkeypatch.setattr(lease, "STALE_AFTER", 1.0)
    client.create_collection(lease_collection(corpus), embedding_function=None,
                             metadata={"host": "another-machine", "pid": 1, "command": "qa ingest", "beat": 0})
    with pytest.raises(StoreBusy), Lease(client, settings.model_copy(update={"lock_wait": 0.2}), corpus):
        pass  # on another machine, not yet silent for STALE_AFTER: not taken over
    with Lease(client, settings, corpus, Holder(on_wait=waited.append)):  # taken over once it stops beating
        assert len(waited) == 1 and "another-machine" in waited[0]
