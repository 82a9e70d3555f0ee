"""The cached synthetic-corpus builder behind the large-corpus benchmarks."""

import pytest

from bench.synthetic import MARKER, build
from retrieval.chain import Engine
from retrieval.loaders import load_paths
from retrieval.store import CorpusStore, open_client
from tests.conftest import EVAL_DIR

pytestmark = pytest.mark.integration
SOURCE = EVAL_DIR / "squad-v2.0-dev-first5.json"


def test_builds_once_with_real_sentences_and_reuses_the_cache(tmp_path, model_cache):
    settings = build(tmp_path / "synth", passages=120, source=SOURCE, model_cache=model_cache, progress=False)
    store = CorpusStore(open_client(settings), settings, "synthetic", embed_model=None)
    assert store.count() == 120
    stored = list(store.iter_passages())
    original = "\n".join(d.text for d in load_paths([SOURCE]))
    for _, text, meta in stored[:20]:
        assert meta["end"] - meta["start"] == len(text)
        sentences = [text[s - meta["start"] : e - meta["start"]] for s, e in __import__("json").loads(meta["sentences"])]
        assert 3 <= len(sentences) <= 5
        assert all(s in original for s in sentences)  # real SQuAD sentences
    marker_time = (tmp_path / "synth" / MARKER).stat().st_mtime
    build(tmp_path / "synth", passages=120, source=SOURCE, model_cache=model_cache, progress=False)
    assert (tmp_path / "synth" / MARKER).stat().st_mtime == marker_time  # not rebuilt
    _, text, _ = stored[0]
    answer = Engine(settings).answer(text.split(". ")[0], corpus="synthetic")
    assert not answer.abstained  # answerable like a real corpus: both retrieval sides work


def test_sentence_vectors_are_the_real_embeddings(tmp_path, model_cache):
    settings = build(tmp_path / "synth", passages=60, source=SOURCE, model_cache=model_cache, progress=False)
    store = CorpusStore(open_client(settings), settings, "synthetic", embed_model=None)
    page = store.sentences.get(limit=5, include=["documents", "embeddings"])
    engine = Engine(settings)
    fresh = engine.embeddings.encode(page["documents"])
    assert abs(fresh - page["embeddings"]).max() < 1e-4
