"""Every name the index and its caches go by, built here and nowhere else: Chroma collections,
passage and sentence ids, and the files under the data directory.

A corpus `news` is the collections `qa-news-passages` and `qa-news-sentences`, plus
`qa-news-writer` while an ingest holds it on a Chroma server (lease.py).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ..settings import Settings

PREFIX, PASSAGES, SENTENCES, WRITER = "qa-", "-passages", "-sentences", "-writer"


def passages_collection(corpus: str) -> str:
    return f"{PREFIX}{corpus}{PASSAGES}"


def sentences_collection(corpus: str) -> str:
    return f"{PREFIX}{corpus}{SENTENCES}"


def lease_collection(corpus: str) -> str:
    return f"{PREFIX}{corpus}{WRITER}"


def corpus_of(collection: str) -> str | None:
    """The corpus a passages collection belongs to; None for any other collection."""
    if collection.startswith(PREFIX) and collection.endswith(PASSAGES):
        return collection[len(PREFIX) : -len(PASSAGES)]
    return None


def span_id(source: str, start: int, end: int, text: str) -> str:
    """The id of a passage or a sentence: where it is and what it says, so re-ingesting the
    same text rewrites nothing and a changed text gets a new id."""
    return hashlib.sha1(f"{source}\x1f{start}\x1f{end}\x1f{text}".encode()).hexdigest()


# -- files under the data directory --------------------------------------------------------


def embedded_store(data_dir: Path) -> Path:
    return data_dir / "chroma"


def lock_file(data_dir: Path) -> Path:
    return data_dir / "chroma.lock"


def owner_file(data_dir: Path) -> Path:
    return data_dir / "chroma.owner.json"


def lexical_cache(data_dir: Path) -> Path:
    return data_dir / "lexical"


def lexical_folder(cache: Path, corpus: str, revision: str, version: str) -> Path:
    """One corpus revision's BM25 index, under `lexical_cache`."""
    return cache / corpus / f"{revision}-{version}"


def lexical_terms(cache: Path, corpus: str, version: str) -> Path:
    """Each passage's BM25 terms (a file beside the corpus's revisions, under `lexical_cache`)."""
    return cache / corpus / f"terms-{version}.sqlite3"


def model_cache(settings: Settings) -> Path:
    """Where models are exported (ONNX): QA_MODEL_CACHE, else under the data directory."""
    return settings.model_cache or settings.data_dir / "models"


def onnx_export(cache: Path, model_name: str) -> Path:
    return cache / (re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name).strip("_") or "model")


def onnx_int8_export(cache: Path, model_name: str) -> Path:
    """The int8 copy of `onnx_export` that ingest embeds with."""
    folder = onnx_export(cache, model_name)
    return folder.with_name(folder.name + "-int8")


def slack_state(data_dir: Path) -> Path:
    """The Slack app's SQLite state, when QA_STATE_URL does not name another database."""
    return data_dir / "slack.sqlite3"


def serve_socket(data_dir: Path) -> Path:
    """Where `qa serve` takes the ingests a `qa ingest` hands it (bot/handoff)."""
    return data_dir / "serve.sock"


def local_model_cache() -> Path:
    """Where the real local model is joined and kept (git-ignored), for the bench and the test alike."""
    return Path(__file__).resolve().parents[2] / "bench" / ".cache"
