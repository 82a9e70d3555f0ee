"""Turns documents into cited answers: load -> split -> embed -> store -> retrieve -> answer.

The public API, what the CLI, the Slack app and the benchmarks use, by stage. Names resolve
lazily, so `import retrieval` stays cheap (torch and chromadb load only when a name that
needs them is used).

    ingest/   loaders, splitting, the ingest pipeline
    search/   embeddings, the ONNX encoder, BM25, fusion, the hybrid retriever
    answer/   the extractive answerer, the LLM answerer and its prompts, quote checks
    store/    Chroma: the client, naming, one corpus, the process lock, the writer's lease
    engine.py a question -> an Answer, for the front ends
"""

from __future__ import annotations

import importlib

_WHERE = {
    # the engine and its configuration
    "Engine": "engine", "Settings": "settings", "Holder": "store.process_lock",
    "QAError": "errors", "UsageError": "errors", "CorpusNotFound": "errors", "StoreUnavailable": "errors",
    # plain data
    "Answer": "types", "Citation": "types", "Document": "types", "Passage": "types", "Span": "types", "Turn": "types",
    # load -> split -> embed -> store
    "ingest": "ingest.pipeline", "IngestReport": "ingest.pipeline", "load_paths": "ingest.loaders",
    "split": "ingest.splitting", "sentences": "ingest.splitting", "content_hash": "ingest.splitting",
    "document_hash": "ingest.splitting", "indexable_sentences": "ingest.splitting",
    "SentenceEmbeddings": "search.embeddings", "bundled_model_path": "search.embeddings", "terms": "search.lexical",
    "CorpusStore": "store.corpus", "passage_sentence_text": "store.corpus", "sentence_ids": "store.corpus",
    "remove_corpus": "store.corpus", "open_client": "store.client", "close_client": "store.client",
    "model_cache": "store.naming",
    # answer, and how answers are scored (bench/)
    "AnswerSettings": "answer.extractive", "abstention_features": "answer.extractive",
    "answerable_probability": "answer.extractive",
    "LLMAnswerer": "answer.llm", "QuoteChecker": "answer.llm", "NOT_VERBATIM": "answer.llm", "NOT_RETRIEVED": "answer.llm",
    "LocalServer": "answer.local_model", "ModelUnavailable": "answer.local_model", "QWEN_05B": "answer.local_model",
    "LOCAL_MODELS": "answer.local_model",
    "ensure_packages": "answer.local_model", "prepare_model": "answer.local_model",
    "LOCAL_MODEL_CACHE": "answer.local_model",
    "Question": "evaluation", "evaluate": "evaluation", "load_questions": "evaluation",
    "contains_answer": "evaluation", "squad_normalise": "evaluation", "MAX_QUOTE_CHARS": "answer.quotes",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'retrieval' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
