"""Killed at any moment (SIGKILL: no cleanup runs), an ingest leaves an index that answers
from what it committed, and running the same ingest again completes it with no
duplicated, orphaned or stale passage; the dense side (sentence vectors) and the lexical
side agree with the passages. The Slack feedback file survives kills the same way."""

from __future__ import annotations

import random
import uuid

import pytest

from retrieval.engine import Engine
from retrieval.ingest.pipeline import ingest
from retrieval.settings import Settings
from retrieval.store.client import close_client, open_client
from retrieval.store.corpus import CorpusStore
from tests.support.index_checks import IngestProcess, audit, kill_feedback_writers, problems, qa_env, squad_documents

pytestmark = pytest.mark.integration


def answered_from(engine: Engine, question: str, corpus: str) -> set[str]:
    return {p.source for p in engine.answer(question, corpus=corpus).passages}


def check_committed_documents_answer(settings: Settings, corpus: str, firsts: dict, updating: bool = False) -> set[str]:
    """Every document the index holds whole is found by its own first sentence; nothing is
    found that the index does not hold; every passage has its sentence vectors and is in the
    lexical index. Returns the documents held whole. (A document killed mid-update holds both
    versions, by design: `updating` allows that duplication.)"""
    found = audit(settings, corpus)
    engine = Engine(settings)
    try:
        for path, sentence in firsts.items():
            sources = answered_from(engine, sentence, corpus)
            if str(path) in found["documents"]:
                assert str(path) in sources, f"{path.name} was committed but is not found"
            assert sources <= {str(p) for p in firsts}
    finally:
        engine.close()  # the next ingest process needs the embedded store
    assert found["missing_sentences"] == 0 and found["lexical_mismatch"] == 0
    assert updating or (found["duplicate_passages"] == 0 and found["stale_passages"] == 0)
    return found["documents"]


def test_an_embedded_ingest_killed_three_times_then_rerun_is_complete_and_consistent(settings, tmp_path):
    """Three `qa ingest` processes, each SIGKILLed at a different point of its progress
    (each resuming from what the last one committed), then the same ingest run to the end."""
    # Twenty: with twelve, the third run once committed all that was left before its kill
    # (CI, 2026-12-04), and once more with twenty while the bar redrew at most every 0.1 s.
    firsts = squad_documents(tmp_path / "docs", documents=20, paragraphs=2)
    env = qa_env(settings)
    committed: list[int] = []
    # Fractions of each run's own work (what the previous runs left): late enough to have
    # committed something, early enough that documents always remain for the re-run.
    for fraction in (0.2, 0.35, 0.35):
        run = IngestProcess([tmp_path / "docs"], "crash", env)
        progress = run.wait_for(fraction)
        run.kill()
        assert progress is not None, "the ingest finished before it could be killed"
        committed.append(len(check_committed_documents_answer(settings, "crash", firsts)))
    assert committed == sorted(committed) and 0 < committed[0] and committed[-1] < len(firsts)

    report = ingest([str(tmp_path / "docs")], "crash", settings, progress=False)
    assert report.recovered  # the last killed run left its mark; this run swept after it
    assert problems(found := audit(settings, "crash")) == {}
    assert found["documents"] == {str(p) for p in firsts}
    engine = Engine(settings)
    assert all(str(path) in answered_from(engine, first, "crash") for path, first in firsts.items())
    engine.close()
    again = ingest([str(tmp_path / "docs")], "crash", settings, progress=False)
    assert not again.changed and not again.recovered and len(again.unchanged) == len(firsts)


@pytest.mark.server
def test_a_server_update_killed_mid_run_leaves_no_stale_passage_after_the_rerun(server_env, tmp_path):
    """Server mode: every document changes (all its offsets shift), and a bot answers while
    the ingest updating them runs; the ingest is SIGKILLed. The bot's lexical index then
    matches the passages (it does not keep one built before the kill); the re-run takes over
    the dead ingest's lease at once and leaves only the new versions."""
    settings = Settings(data_dir=tmp_path / "data")
    corpus = f"crash-{uuid.uuid4().hex[:8]}"
    firsts = squad_documents(tmp_path / "docs", documents=8, paragraphs=2, first=40)
    ingest([str(tmp_path / "docs")], corpus, settings, progress=False)
    bot = Engine(settings)
    bot.warm_up(corpus)
    for path in firsts:
        path.write_text("This edition was revised. " + path.read_text())

    run = IngestProcess([tmp_path / "docs"], corpus, qa_env(settings))
    assert run.wait_for(0.2) is not None
    # The bot reads mid-ingest and builds its lexical index. The ingest is held still meanwhile:
    # on a busy machine the read can outlast the rest of the ingest, which then is never killed.
    run.pause()
    try:
        answered_from(bot, next(iter(firsts.values())), corpus)
    finally:
        run.resume()  # a failed read still leaves an ingest that runs on and can be killed
    assert run.wait_for(0.6) is not None
    run.kill()

    retriever, _ = bot.corpus(corpus)
    stored = {pid for pid, _, _ in retriever.store.iter_passages(with_text=False)}
    assert set(retriever.lexical().ids) == stored  # rebuilt: the kill changed the corpus after it was built
    check_committed_documents_answer(settings, corpus, firsts, updating=True)

    # The dead ingest's lease would keep this one out for STALE_AFTER (20 s) > QA_LOCK_WAIT (5 s)
    # had it not seen that the holder's process is gone.
    report = ingest([str(tmp_path / "docs")], corpus, settings.model_copy(update={"lock_wait": 5}), progress=False)
    assert report.recovered and 0 < len(report.updated) < len(firsts)  # the rest were updated before the kill
    assert problems(found := audit(settings, corpus)) == {}  # stale_passages == 0: old versions all gone
    assert found["documents"] == {str(p) for p in firsts}
    assert all(str(path) in answered_from(bot, first, corpus) for path, first in firsts.items())


def test_vectors_orphaned_by_a_kill_are_swept_even_when_their_file_is_gone_by_the_rerun(settings, tmp_path):
    """A kill between writing a document's sentence vectors and its passages leaves vectors
    no passage uses. If the file is deleted before the next ingest, no document owns them any
    more; the next ingest sees the unfinished write and sweeps them."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The canteen serves lentil soup on Fridays. It opens at noon.")
    (docs / "b.txt").write_text("The library lends laptops for a week. Ask at the front desk.")
    ingest([str(docs)], "default", settings, progress=False)
    client = open_client(settings)
    store = CorpusStore(client, settings, "default", embed_model=None)
    store.begin_write("killed-host:4242")  # the state the kill leaves: marked, b's vectors without b's passages
    store.passages.delete(where={"source": str(docs / "b.txt")})
    close_client(client)
    assert audit(settings, "default")["orphan_sentences"] == 2

    (docs / "b.txt").unlink()
    report = ingest([str(docs)], "default", settings, prune=True, progress=False)
    assert report.recovered and report.unchanged == [str(docs / "a.txt")]
    assert problems(found := audit(settings, "default")) == {} and found["sentences"] == 2




def test_killed_feedback_writers_never_lose_a_committed_click_or_damage_the_file(tmp_path):
    """Two processes record feedback into one file; each is SIGKILLed at a random moment, five
    times over. Every click a writer had reported committed is there, and the file is sound."""
    from bot.slack.state import SlackState

    path = tmp_path / "slack.sqlite3"
    committed = kill_feedback_writers(path, rounds=5, rng=random.Random(7), clicks=(5, 60))
    state = SlackState(path)
    assert state.integrity_problem() is None
    stored = {row["answer_id"] for row in state.feedback_rows()}
    assert committed <= stored and len(committed) >= 50
