"""Where a sentence's vector lives (store/corpus.py): a new corpus keeps it in the sentence
record's metadata and searches the windows' mean vectors, so Chroma never loads a sentence
index into memory; a corpus made before keeps its real sentence embeddings and is searched
by sentence, as it always was. Both answer the same. Real model, real embedded Chroma."""

import numpy as np
import pytest

from retrieval.engine import Engine
from retrieval.ingest.pipeline import ingest
from retrieval.search.embeddings import SentenceEmbeddings
from retrieval.store.client import open_client
from retrieval.store.corpus import CorpusStore, decode_vector, decode_vectors, encode_vector
from retrieval.store.naming import passages_collection, sentences_collection
from tests.support.seed import SEED_CORPUS, SHOIGU_SENTENCE

pytestmark = pytest.mark.integration


def store_of(settings, corpus="default") -> CorpusStore:
    return CorpusStore(open_client(settings), settings, corpus, embed_model=None)


def make_collections_as_before(settings, corpus="default") -> None:
    """The collections as the code before this layout created them: no mark on the sentences."""
    client = open_client(settings)
    for name in (passages_collection(corpus), sentences_collection(corpus)):
        client.create_collection(name, metadata={"embed_model": "", "revision": "new"},
                                 configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)


def test_a_new_corpus_keeps_each_sentence_vector_in_its_metadata_beside_a_placeholder(settings):
    ingest([str(SEED_CORPUS)], "default", settings)
    store = store_of(settings)
    assert store.vectors_in_metadata
    page = store.sentences.get(limit=5, include=["documents", "embeddings"])
    assert all(len(e) == 1 for e in page["embeddings"])  # nothing there worth indexing
    stored = np.stack([store.sentence_vectors(page["ids"])[i] for i in page["ids"]])
    fresh = SentenceEmbeddings.from_settings(settings).encode(page["documents"])  # fp32
    assert (stored * fresh).sum(axis=1).min() > 0.97  # each one its own sentence's vector (int8, then float16)


def test_a_vector_survives_its_metadata_form_to_float16_precision():
    vector = np.random.default_rng(7).normal(size=384).astype(np.float32)
    vector /= np.linalg.norm(vector)
    text = encode_vector(vector)
    assert isinstance(text, str) and len(text) == 1024  # 768 bytes, base64
    assert np.abs(decode_vector(text) - vector).max() < 1e-3


@pytest.mark.parametrize("dim", [384, 100])  # 100: each text padded, so not decoded as one
def test_a_page_of_vectors_decodes_as_each_one_alone(dim):
    vectors = np.random.default_rng(3).normal(size=(5, dim)).astype(np.float32)
    texts = [encode_vector(v) for v in vectors]
    decoded = decode_vectors(texts)
    assert len(decoded) == 5 and all(d.shape == (dim,) for d in decoded)
    assert all(np.array_equal(d, decode_vector(t)) for d, t in zip(decoded, texts))
    assert np.abs(np.stack(decoded) - vectors).max() < 1e-2 and decode_vectors([]) == []


def test_a_new_corpus_is_answered_without_searching_its_sentences(settings):
    ingest([str(SEED_CORPUS)], "default", settings)
    engine = Engine(settings)
    answer = engine.answer("What did Shoigu ask Wallace?")
    assert SHOIGU_SENTENCE in answer.citations[0].quote
    retriever, _ = engine.corpus("default")
    assert retriever._sentence_store is None  # the sentence collection was read by id only


def test_a_corpus_made_before_keeps_its_sentence_embeddings_and_answers_the_same(settings):
    make_collections_as_before(settings)
    ingest([str(SEED_CORPUS)], "default", settings)
    store = store_of(settings)
    assert not store.vectors_in_metadata
    page = store.sentences.get(limit=3, include=["embeddings"])
    assert all(len(e) == 384 for e in page["embeddings"])
    engine = Engine(settings)
    before = engine.answer("What did Shoigu ask Wallace?")
    assert SHOIGU_SENTENCE in before.citations[0].quote
    assert engine.corpus("default")[0]._sentence_store is not None  # searched by sentence
    again = ingest([str(SEED_CORPUS)], "default", settings)  # re-ingest reuses its stored vectors
    assert again.unchanged and not again.changed
    assert store_of(settings).audit()["missing_sentences"] == 0
