"""Ingest: idempotent, updates replace, prune removes, duplicates are stored once, bad files
are skipped without losing the rest. Real model, real embedded Chroma."""

import shutil

import pytest

from retrieval.chain import Engine
from retrieval.errors import QAError
from retrieval.ingest import ingest
from retrieval.store import CorpusStore, open_client
from tests.conftest import SEED_FILE, SHOIGU_SENTENCE

pytestmark = pytest.mark.integration


def counts(settings, corpus="default"):
    store = CorpusStore(open_client(settings), settings, corpus, embed_model=None)
    return store.count(), store.sentences.count(), len(store.documents())


def test_first_ingest_adds_and_a_rerun_changes_nothing(settings, seed_copy):
    first = ingest([str(seed_copy)], "default", settings)
    assert len(first.added) == 1 and first.passages_written > 0
    before = counts(settings)
    second = ingest([str(seed_copy)], "default", settings)
    assert second.unchanged == first.added and not second.changed and second.passages_written == 0
    assert counts(settings) == before


def test_a_changed_file_replaces_its_passages(settings, seed_copy):
    path = seed_copy / SEED_FILE.name
    ingest([str(seed_copy)], "default", settings)
    path.write_text(path.read_text().replace("special forces troops", "naval officers"))
    report = ingest([str(seed_copy)], "default", settings)
    assert report.updated == [str(path)]
    engine = Engine(settings)
    answer = engine.answer("What did Shoigu ask Wallace?")
    assert "naval officers" in answer.citations[0].quote
    texts = " ".join(text for _, text, _ in CorpusStore(open_client(settings), settings, "default", None).iter_passages())
    assert "special forces troops in Ukraine" not in texts  # no stale passage left


def test_prune_drops_documents_whose_file_is_gone(settings, seed_copy):
    (seed_copy / "extra.txt").write_text("The canteen serves soup on Fridays. It is popular.")
    ingest([str(seed_copy)], "default", settings)
    (seed_copy / "extra.txt").unlink()
    kept = ingest([str(seed_copy)], "default", settings)
    assert kept.removed == [] and counts(settings)[2] == 2  # without --prune nothing is dropped
    pruned = ingest([str(seed_copy)], "default", settings, prune=True)
    assert pruned.removed == [str(seed_copy / "extra.txt")]
    assert counts(settings)[2] == 1


def test_a_copy_of_a_document_is_not_stored_twice(settings, seed_copy):
    shutil.copy(seed_copy / SEED_FILE.name, seed_copy / "copy-of-article.txt")
    report = ingest([str(seed_copy)], "default", settings)
    assert len(report.added) == 1
    assert report.skipped[0]["reason"] == "every passage is already indexed from another document"
    assert counts(settings)[2] == 1


def test_bad_files_are_skipped_and_the_rest_ingested(settings, seed_copy):
    (seed_copy / "binary.txt").write_bytes(b"\x00\xff\x00")
    (seed_copy / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    report = ingest([str(seed_copy)], "default", settings)
    assert len(report.added) == 1
    assert {s["source"].rsplit("/", 1)[-1] for s in report.skipped} == {"binary.txt", "latin1.txt"}


def test_the_answer_is_cited_from_the_ingested_document(settings, seed_copy):
    ingest([str(seed_copy)], "default", settings)
    answer = Engine(settings).answer("What did Shoigu ask Wallace?")
    citation = answer.citations[0]
    assert SHOIGU_SENTENCE in citation.quote
    assert (seed_copy / SEED_FILE.name).read_text()[citation.start : citation.end] == citation.quote
    assert citation.date == "2022-02-11" and citation.corpus == "default"


def test_querying_with_another_embedding_model_is_a_clear_error(settings, seed_copy):
    ingest([str(seed_copy)], "default", settings)
    store_args = (open_client(settings), settings, "default")
    with pytest.raises(QAError, match="was embedded with 'sentence-transformers/all-MiniLM-L6-v2'"):
        CorpusStore(*store_args, embed_model="some/other-model")
