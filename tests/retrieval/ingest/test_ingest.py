"""Ingest: idempotent, updates replace, prune removes, duplicates are stored once, bad files
are skipped without losing the rest. Real model, real embedded Chroma."""

import shutil

import pytest

from retrieval.engine import Engine
from retrieval.errors import QAError
from retrieval.ingest.pipeline import ingest
from retrieval.search.embeddings import SentenceEmbeddings
from retrieval.store.client import open_client
from retrieval.store.corpus import CorpusStore
from retrieval.store.naming import model_cache
from tests.support.seed import SEED_CORPUS, SEED_FILE, SHOIGU_SENTENCE

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


def folder_of(folder, **texts):
    """`folder`, made, holding a NAME.txt file for each NAME=text."""
    folder.mkdir()
    for name, text in texts.items():
        (folder / f"{name}.txt").write_text(text)
    return folder


def test_a_file_that_loses_its_text_loses_its_passages(settings, tmp_path):
    docs = folder_of(tmp_path / "d", a="The canteen serves lentil soup on Fridays.", b="The library opens at eight every weekday.")
    ingest([str(docs)], "default", settings)
    (docs / "a.txt").write_text("date 2024-01-01\n")
    report = ingest([str(docs)], "default", settings)
    assert report.removed == [str(docs / "a.txt")]
    answer = Engine(settings).answer("What does the canteen serve on Fridays?")
    assert all("lentil" not in c.quote for c in answer.citations)


def test_an_unreadable_file_is_kept_as_it_was_even_with_prune(settings, tmp_path):
    docs = tmp_path / "d"
    docs.mkdir()
    (docs / "a.txt").write_text("The canteen serves lentil soup on Fridays.")
    ingest([str(docs)], "default", settings)
    (docs / "a.txt").write_bytes(b"\x00\x01 now binary")
    report = ingest([str(docs)], "default", settings, prune=True)
    assert report.removed == [] and report.skipped[0]["reason"] == "binary file, not text"
    assert counts(settings)[2] == 1


def test_text_deferred_to_a_document_that_goes_away_comes_back(settings, tmp_path):
    docs = tmp_path / "d"
    docs.mkdir()
    shared = "The alpha clause sets the notice period at ninety days."
    (docs / "a.txt").write_text(shared)
    long_sentence = "The beta clause covers remote work allowances, " + "including equipment, " * 30 + "and travel."
    (docs / "b.txt").write_text(shared + "\n\n" + long_sentence)  # its first window is a's whole text
    first = ingest([str(docs)], "default", settings)
    assert first.duplicate_passages == 1
    (docs / "a.txt").unlink()
    report = ingest([str(docs)], "default", settings, prune=True)
    assert report.removed == [str(docs / "a.txt")] and report.updated == [str(docs / "b.txt")]
    answer = Engine(settings).answer("What is the notice period in the alpha clause?")
    assert "ninety days" in answer.citations[0].quote and answer.citations[0].source == str(docs / "b.txt")


def test_a_new_passage_size_re_splits_on_the_next_ingest(settings, seed_copy):
    ingest([str(seed_copy)], "default", settings)
    before = counts(settings)[0]
    smaller = settings.model_copy(update={"window_chars": 200})
    report = ingest([str(seed_copy)], "default", smaller)
    assert report.updated and counts(smaller)[0] > before


def test_prune_drops_articles_gone_from_a_data_set_file(settings, tmp_path):
    import json

    path = tmp_path / "set.json"
    article = lambda title, text: {"title": title, "paragraphs": [{"context": text}]}  # noqa: E731
    path.write_text(json.dumps({"data": [article("One", "First article text."), article("Two", "Second article text.")]}))
    ingest([str(path)], "default", settings)
    path.write_text(json.dumps({"data": [article("One", "First article text.")]}))
    report = ingest([str(path)], "default", settings, prune=True)
    assert report.removed == [f"{path}#Two"] and report.unchanged == [f"{path}#One"]


class CountingEmbeddings(SentenceEmbeddings):
    """The real model, counting what it is asked to encode; optionally interrupted (Ctrl-C)
    on the n-th call."""

    def __init__(self, interrupt_on_call: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.calls, self.texts, self.interrupt_on_call = 0, [], interrupt_on_call

    def encode_documents(self, texts):  # what ingest embeds with
        self.calls += 1
        if self.calls == self.interrupt_on_call:
            raise KeyboardInterrupt
        self.texts.extend(texts)
        return super().encode_documents(texts)


def three_documents(tmp_path):
    docs = tmp_path / "many"
    docs.mkdir()
    for name, topic in [("a", "canteen"), ("b", "library"), ("c", "parking")]:
        (docs / f"{name}.txt").write_text(
            f"The {topic} opens at eight. The {topic} closes at six on weekdays.\n\nStaff run the {topic} in shifts. "
            f"The {topic} is closed on public holidays. Questions about the {topic} go to the front desk.\n\n"
            f"The {topic} was rebuilt in 2019 after a fire. Its old building now houses offices. "
            f"A new {topic} wing is planned for next spring.")
    return docs


def test_an_interrupted_ingest_resumes_without_re_embedding(settings, tmp_path):
    docs = three_documents(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        ingest([str(docs)], "default", settings, embeddings=CountingEmbeddings(interrupt_on_call=2, cache_dir=model_cache(settings)))
    assert counts(settings)[2] == 1  # the first document was committed, and can be found
    assert "canteen" in Engine(settings).answer("When does the canteen open?").citations[0].quote
    resumed = CountingEmbeddings(cache_dir=model_cache(settings))
    report = ingest([str(docs)], "default", settings, embeddings=resumed)
    assert report.unchanged == [str(docs / "a.txt")] and sorted(report.added) == [str(docs / "b.txt"), str(docs / "c.txt")]
    assert not any("canteen" in t for t in resumed.texts)  # nothing of a.txt embedded again
    assert counts(settings)[2] == 3


def test_a_document_left_half_written_is_completed_from_its_stored_vectors(settings, tmp_path):
    settings = settings.model_copy(update={"window_chars": 100})  # several passages a document
    docs = three_documents(tmp_path)
    ingest([str(docs)], "default", settings)
    store = CorpusStore(open_client(settings), settings, "default", embed_model=None)
    full = store.count()
    some = store.passages.get(where={"source": str(docs / "b.txt")}, include=[])["ids"]
    assert len(some) > 1
    store.passages.delete(ids=some[:1])  # as a kill in the middle of writing b.txt would leave it
    again = CountingEmbeddings(cache_dir=model_cache(settings))
    report = ingest([str(docs)], "default", settings, embeddings=again)
    assert report.updated == [str(docs / "b.txt")] and again.texts == []
    assert store.count() == full


def test_an_ingest_for_another_folder_names_documents_as_a_local_ingest_there_would(settings, tmp_path, monkeypatch):
    """What `qa serve` does for a `qa ingest` run in another folder: relative paths are read
    from that folder and keep their names, so running the same ingest locally later finds
    the documents unchanged rather than new."""
    team = tmp_path / "team"
    (team / "notes").mkdir(parents=True)
    (team / "notes" / "canteen.txt").write_text("The canteen serves fish on Fridays. It opens at noon.\n")
    monkeypatch.chdir(tmp_path)  # not the folder the paths are relative to
    report = ingest(["notes"], "default", settings, progress=False, cwd=str(team))
    assert report.added == ["notes/canteen.txt"]
    monkeypatch.chdir(team)
    again = ingest(["notes"], "default", settings, progress=False)
    assert again.unchanged == ["notes/canteen.txt"] and not again.added


def test_a_file_replaced_by_a_link_loses_what_was_stored_from_it(settings, tmp_path):
    docs = folder_of(tmp_path / "docs", canteen="The canteen serves lentil soup on Fridays.",
                     notes="The library closes at six on weekdays.")
    ingest([str(docs)], "default", settings)
    (tmp_path / "secret.txt").write_text("The vault code is 4521, written nowhere else.")
    (docs / "notes.txt").unlink()
    (docs / "notes.txt").symlink_to(tmp_path / "secret.txt")
    report = ingest([str(docs)], "default", settings)
    assert report.removed == [str(docs / "notes.txt")]
    assert [s["source"] for s in report.skipped] == [str(docs / "notes.txt")]
    texts = " ".join(text for _, text, _ in CorpusStore(open_client(settings), settings, "default", None).iter_passages())
    assert "lentil soup" in texts and "library" not in texts and "vault" not in texts


def test_the_public_ingest_runs_the_pipeline_whatever_was_imported_before(settings):
    import retrieval.ingest.pipeline  # noqa: F401  (binds the name `ingest` in `retrieval` to the package)
    from retrieval import IngestReport, ingest

    report = ingest([str(SEED_CORPUS)], "default", settings, progress=False)
    assert isinstance(report, IngestReport) and report.added and report.passages_written > 0
