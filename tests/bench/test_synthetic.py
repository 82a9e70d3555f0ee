"""The cached synthetic-corpus builder behind the large-corpus benchmarks, run as the
benchmarks run it (bench/synthetic.py)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from retrieval.engine import Engine
from retrieval.ingest.loaders import load_paths
from retrieval.settings import Settings
from retrieval.store.client import open_client
from retrieval.store.corpus import CorpusStore
from tests.support.seed import EVAL_DIR, ROOT

pytestmark = pytest.mark.integration
SOURCE = EVAL_DIR / "squad-v2.0-dev-first5.json"
MARKER = "synthetic.json"  # what the builder writes when the corpus is complete


def build(data_dir, passages: int, model_cache) -> Settings:
    subprocess.run([sys.executable, str(ROOT / "bench" / "synthetic.py"), str(data_dir), "--passages", str(passages),
                    "--source", str(SOURCE), "--model-cache", str(model_cache), "--quiet"],
                   check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=600)
    return Settings(data_dir=data_dir, model_cache=model_cache)


def test_builds_once_with_real_sentences_and_reuses_the_cache(tmp_path, model_cache):
    settings = build(tmp_path / "synth", 120, model_cache)
    store = CorpusStore(open_client(settings), settings, "synthetic", embed_model=None)
    assert store.count() == 120
    stored = list(store.iter_passages())
    original = "\n".join(d.text for d in load_paths([SOURCE]))
    for _, text, meta in stored[:20]:
        assert meta["end"] - meta["start"] == len(text)
        sentences = [text[s - meta["start"] : e - meta["start"]] for s, e in json.loads(meta["sentences"])]
        assert 3 <= len(sentences) <= 5
        assert all(s in original for s in sentences)  # real SQuAD sentences
    marker_time = (tmp_path / "synth" / MARKER).stat().st_mtime
    build(tmp_path / "synth", 120, model_cache)
    assert (tmp_path / "synth" / MARKER).stat().st_mtime == marker_time  # not rebuilt
    _, text, _ = stored[0]
    answer = Engine(settings).answer(text.split(". ")[0], corpus="synthetic")
    assert not answer.abstained  # answerable like a real corpus: both retrieval sides work


def test_sentence_vectors_are_the_real_embeddings(tmp_path, model_cache):
    settings = build(tmp_path / "synth", 60, model_cache)
    store = CorpusStore(open_client(settings), settings, "synthetic", embed_model=None)
    page = store.sentences.get(limit=5, include=["documents"])
    stored = store.sentence_vectors(page["ids"])
    engine = Engine(settings)
    fresh = engine.embeddings.encode(page["documents"])
    assert abs(fresh - np.stack([stored[i] for i in page["ids"]])).max() < 2e-3  # stored as float16
