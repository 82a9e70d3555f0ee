"""The embedding model: the ONNX export answers questions without torch, with the same vectors;
ingest embeds with a checked int8 copy, without torch either."""

import subprocess
import sys

import numpy as np
import pytest

from retrieval.ingest.pipeline import ingest
from retrieval.search.embeddings import SentenceEmbeddings
from retrieval.search.onnx_encoder import OnnxEncoder
from retrieval.store.naming import model_cache, onnx_export, onnx_int8_export
from tests.support.seed import ROOT, SEED_CORPUS, SEED_FILE

pytestmark = pytest.mark.integration

TEXTS = ["What did Shoigu ask Wallace?", "Ünïcode, punctuation — and a much longer sentence " * 20, "x"]


def test_the_onnx_export_gives_the_models_vectors(tmp_path):
    embeddings = SentenceEmbeddings(cache_dir=tmp_path)
    reference = embeddings.model.encode(TEXTS, normalize_embeddings=True, show_progress_bar=False)  # exports
    onnx = OnnxEncoder.load(onnx_export(tmp_path, embeddings.name))
    assert onnx is not None
    vectors = onnx.encode(TEXTS)
    assert vectors.shape == (3, 384) and np.abs(vectors - reference).max() < 1e-5
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_damaged_export_falls_back_to_the_full_model(tmp_path):
    folder = onnx_export(tmp_path, "sentence-transformers/all-MiniLM-L6-v2")
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text("{not json")
    assert OnnxEncoder.load(folder) is None
    assert SentenceEmbeddings(cache_dir=tmp_path).encode(["hello"]).shape == (1, 384)


def test_asking_after_ingest_needs_neither_torch_nor_sentence_transformers(settings, tmp_path):
    ingest([str(SEED_CORPUS)], "default", settings)
    probe = (
        "import sys; from retrieval.engine import Engine; from retrieval.settings import Settings; "
        "a = Engine(Settings()).answer('What did Shoigu ask Wallace?'); "
        "print(a.citations[0].quote[:30], 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env={"QA_DATA_DIR": str(settings.data_dir), "QA_MODEL_CACHE": str(model_cache(settings)),
                              "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"},
                         cwd=tmp_path)
    assert out.stdout.split()[-2:] == ["False", "False"] and "Shoigu asked Wallace" in out.stdout


@pytest.fixture(scope="module")
def int8_copy(tmp_path_factory):
    """The int8 copy made the way ingest makes it: (embeddings, its folder, sentences, their int8 vectors)."""
    cache = tmp_path_factory.mktemp("models")
    embeddings = SentenceEmbeddings(cache_dir=cache)
    sentences = [line.strip() for line in SEED_FILE.read_text().split(". ") if len(line.strip()) > 20][:40]
    documents = embeddings.encode_documents(sentences)  # exports, then quantises
    return embeddings, onnx_int8_export(cache, embeddings.name), sentences, documents


def test_ingest_embeds_with_an_int8_copy_close_to_the_query_encoders_vectors(int8_copy):
    embeddings, folder, sentences, documents = int8_copy
    assert (folder / "model.onnx").is_file()
    questions = embeddings.encode(sentences)  # the fp32 model (torch for this many)
    cosine = (documents * questions).sum(axis=1)
    assert documents.shape == (len(sentences), 384) and cosine.min() > 0.97 and cosine.mean() > 0.985
    # Close enough that searching the int8 vectors with fp32 ones finds what fp32 vectors would.
    assert ((questions @ documents.T).argmax(axis=1) == (questions @ questions.T).argmax(axis=1)).all()


def test_a_sentences_int8_vector_depends_on_its_text_only_not_on_what_is_ingested_with_it(int8_copy):
    """Dynamic quantisation scales a run's activations over the whole run: sentences batched
    together would change each other's vectors, so one document's would depend on the rest."""
    embeddings, _, sentences, documents = int8_copy
    alone = np.concatenate([embeddings.encode_documents([s]) for s in sentences[:10]])
    with_others = embeddings.encode_documents(["A much longer sentence to batch beside the short ones, " * 6, *sentences[:10]])[1:]
    assert np.array_equal(alone, documents[:10]) and np.array_equal(with_others, documents[:10])


def test_the_int8_copys_weights_fit_in_7_bits_so_no_cpu_overflows_their_sums(int8_copy):
    """Without VNNI, onnxruntime adds pairs of 8-bit products in 16 bits: weights beyond
    [-64, 64] could overflow there and not on a VNNI CPU, giving the corpus other vectors."""
    import onnx
    from onnx import numpy_helper

    _, folder, _, _ = int8_copy
    model = onnx.load(folder / "model.onnx")
    weights = [numpy_helper.to_array(t) for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert weights and max(int(np.abs(w.astype(np.int16)).max()) for w in weights) <= 64


def test_a_failed_or_unfaithful_quantisation_falls_back_to_the_fp32_model(tmp_path, monkeypatch):
    from retrieval.search import onnx_encoder

    monkeypatch.setattr(onnx_encoder, "MIN_INT8_COSINE", 1.01)  # no int8 copy can pass
    embeddings = SentenceEmbeddings(cache_dir=tmp_path / "fresh")
    vectors = embeddings.encode_documents(TEXTS)
    assert not onnx_int8_export(tmp_path / "fresh", embeddings.name).exists()
    assert np.abs(vectors - embeddings.encode(TEXTS)).max() < 1e-5


def test_ingest_needs_neither_torch_nor_sentence_transformers_once_the_model_is_exported(settings, tmp_path):
    SentenceEmbeddings.from_settings(settings).encode_documents(["export and quantise once"])
    probe = (
        "import sys; from retrieval.ingest.pipeline import ingest; from retrieval.settings import Settings; "
        f"r = ingest([{str(SEED_CORPUS)!r}], 'default', Settings(), progress=False); "
        "print(r.passages_written, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env={"QA_DATA_DIR": str(settings.data_dir), "QA_MODEL_CACHE": str(model_cache(settings)),
                              "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"},
                         cwd=tmp_path)
    written, torch_loaded, st_loaded = out.stdout.split()[-3:]
    assert int(written) > 0 and (torch_loaded, st_loaded) == ("False", "False")


def test_token_vectors_are_the_models_own_for_each_token_with_its_characters(int8_copy):
    """What the answerer aligns a question with a sentence by: the int8 copy's token vectors,
    close to the full model's (used without a model cache), a text's whatever is encoded
    beside it, and each token's span inside the text."""
    embeddings, folder, sentences, _ = int8_copy
    texts = sentences[:6]
    fast = embeddings.token_vectors(texts)
    full = SentenceEmbeddings().token_vectors(texts)  # no cache: sentence-transformers itself
    for text, mine, reference in zip(texts, fast, full):
        assert mine.spans == reference.spans and all(0 <= a < b <= len(text) for a, b in mine.spans)
        assert mine.spans == sorted(mine.spans) and text[slice(*mine.spans[0])].strip()
        assert mine.vectors.shape == (len(mine.spans), 384)
        assert np.allclose(np.linalg.norm(mine.vectors, axis=1), 1.0, atol=1e-5)
        assert (mine.vectors * reference.vectors).sum(axis=1).min() > 0.9
    alone = SentenceEmbeddings(cache_dir=folder.parent).token_vectors([texts[3]])[0]  # nothing remembered yet
    assert np.array_equal(alone.vectors, fast[3].vectors)


def test_token_vectors_are_remembered_for_the_latest_texts_only(monkeypatch, int8_copy):
    from retrieval.search import embeddings as module

    _, folder, sentences, _ = int8_copy
    embeddings = SentenceEmbeddings(cache_dir=folder.parent)
    encoded = []
    real = embeddings._token_vectors
    monkeypatch.setattr(embeddings, "_token_vectors", lambda texts: encoded.extend(texts) or real(texts))
    monkeypatch.setattr(module, "TOKEN_CACHE_TEXTS", 3)
    embeddings.token_vectors(sentences[:2])
    embeddings.token_vectors(sentences[1:3])  # the second is remembered
    assert encoded == [sentences[0], sentences[1], sentences[2]]
    embeddings.token_vectors([sentences[3]])  # four texts: the least recently asked (the first) goes
    embeddings.token_vectors([sentences[0], sentences[2]])
    assert encoded[3:] == [sentences[3], sentences[0]]
