"""The BM25 index an ingest leaves (built from the terms cache, tokenising only new passages)
is the index a full rebuild from the stored passages gives."""

import logging
import shutil

import pytest

from retrieval.ingest.pipeline import ingest
from retrieval.search import lexical
from retrieval.search.lexical import LexicalIndex, lexical_index, terms
from retrieval.store.client import close_client, open_client
from retrieval.store.corpus import CorpusStore
from retrieval.store.naming import lexical_cache, lexical_folder
from tests.support.seed import SEED_CORPUS

pytestmark = pytest.mark.integration

QUESTIONS = ["What did Shoigu ask Wallace?", "special forces Ukraine weapons", "Moscow talks", "nothing matches zzqx"]


def _full_rebuild(store) -> LexicalIndex:
    ids, texts = zip(*[(pid, text) for pid, text, _ in store.iter_passages()])
    return LexicalIndex.build(list(ids), list(texts))


def _assert_same(a: LexicalIndex, b: LexicalIndex) -> None:
    assert a.ids == b.ids and a.doc_freq == b.doc_freq
    for question in QUESTIONS:
        assert a.search(terms(question), 10) == b.search(terms(question), 10)


def test_the_index_an_ingest_leaves_equals_a_full_rebuild(settings, tmp_path, monkeypatch):
    folder = tmp_path / "docs"
    shutil.copytree(SEED_CORPUS, folder)
    ingest([str(folder)], "default", settings, progress=False)
    (folder / "later.txt").write_text("Defence talks resumed in Moscow on Friday. Wallace said weapons deliveries would go on.\n")
    tokenised: list[str] = []
    real_terms = lexical.terms
    monkeypatch.setattr(lexical, "terms", lambda text: tokenised.append(text) or real_terms(text))
    ingest([str(folder)], "default", settings, progress=False)
    monkeypatch.setattr(lexical, "terms", real_terms)

    client = open_client(settings)
    try:
        store = CorpusStore(client, settings, "default", None)
        # The second ingest tokenised only the new document's passages, and cached the index
        # for the revision it left: the first question loads it.
        assert tokenised and all("Defence talks resumed" in text for text in tokenised)
        cached = lexical_folder(lexical_cache(settings.data_dir), "default", store.revision(), lexical.TOKENISER_VERSION)
        assert (cached / "ids.json").is_file()
        _assert_same(lexical_index(store, lexical_cache(settings.data_dir)), _full_rebuild(store))
        # ...and a rebuild from the terms cache alone (the saved index gone) is the same again.
        shutil.rmtree(cached)
        _assert_same(lexical_index(store, lexical_cache(settings.data_dir)), _full_rebuild(store))
    finally:
        close_client(client)


def test_a_reader_without_the_terms_cache_builds_the_same_index(settings):
    ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    shutil.rmtree(lexical_cache(settings.data_dir))  # a fresh machine on the same store
    client = open_client(settings)
    try:
        store = CorpusStore(client, settings, "default", None)
        _assert_same(lexical_index(store, lexical_cache(settings.data_dir)), _full_rebuild(store))
    finally:
        close_client(client)


def test_an_index_read_during_a_write_that_was_killed_is_not_trusted_after_it(settings, tmp_path):
    """A reader builds the index after an ingest committed a document; the ingest is then
    killed halfway through the next one, before it bumps the revision. The write's mark
    stays, so the reader's next index holds what the kill left, not what it read before."""
    folder = tmp_path / "docs"
    shutil.copytree(SEED_CORPUS, folder)
    ingest([str(folder)], "default", settings, progress=False)
    client = open_client(settings)
    try:
        store = CorpusStore(client, settings, "default", None)
        cache = lexical_cache(settings.data_dir)
        store.begin_write("killed-host:4242")
        store.bump_revision()  # one document committed
        before = lexical_index(store, cache)
        gone = before.ids[0]
        store.passages.delete(ids=[gone])  # the next document half written when the kill came
        after = lexical_index(store, cache)
        assert gone not in after.ids and len(after.ids) == len(before.ids) - 1
        _assert_same(after, _full_rebuild(store))
    finally:
        close_client(client)


def test_building_an_index_shows_no_notes_of_bm25s_below_a_warning(caplog):
    """bm25s sets its logger to DEBUG when imported; with any handler on the root logger,
    `qa ingest` printed "DEBUG:bm25s:Building index from tokens"."""
    caplog.set_level(logging.DEBUG)
    LexicalIndex.build(["p1", "p2"], ["Shoigu asked Wallace.", "Wallace arrived in Moscow."])
    assert [r.getMessage() for r in caplog.records if r.name.startswith("bm25s") and r.levelno < logging.WARNING] == []
