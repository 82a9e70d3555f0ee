"""Hybrid retriever: dense (Chroma) and BM25 rankings fused by reciprocal rank.

A LangChain `BaseRetriever`, so it composes with LCEL and passes LangChain's standard
retriever tests. Each returned Document carries its passage's offsets and scores in
`metadata` for the answerer.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, PrivateAttr

from .embeddings import SentenceEmbeddings
from .lexical import LexicalIndex, lexical_index, terms
from .store import CorpusStore


class HybridRetriever(BaseRetriever):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: CorpusStore
    embeddings: SentenceEmbeddings
    cache_dir: Path
    k: int = Field(5, ge=1, le=100)
    candidates: int = Field(40, ge=1, description="Hits taken from each side before fusion.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    lexical_weight: float = Field(1.0, ge=0, description="Weight of the BM25 ranking in the fusion.")

    _lexical: tuple[str, LexicalIndex] | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def lexical(self) -> LexicalIndex:
        """The BM25 index for the corpus as it is now (rebuilt after an ingest)."""
        revision = self.store.revision()
        with self._lock:
            if self._lexical is None or self._lexical[0] != revision:
                self._lexical = (revision, lexical_index(self.store, self.cache_dir))
            return self._lexical[1]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun | None = None, k: int | None = None
    ) -> list[Document]:
        k = k or self.k
        vector = self.embeddings.query_vector(query)
        dense = self.store.vector_store(self.embeddings).similarity_search_by_vector_with_relevance_scores(
            vector.tolist(), k=self.candidates
        )
        lexical = self.lexical().search(terms(query), self.candidates)

        fused: dict[str, float] = {}
        by_id: dict[str, Document] = {}
        scores: dict[str, dict[str, float]] = {}
        for rank, (doc, score) in enumerate(dense):
            fused[doc.id] = fused.get(doc.id, 0.0) + 1.0 / (self.rrf_k + rank + 1)
            by_id[doc.id] = doc
            scores.setdefault(doc.id, {})["dense"] = score
        for rank, (pid, score) in enumerate(lexical):
            fused[pid] = fused.get(pid, 0.0) + self.lexical_weight / (self.rrf_k + rank + 1)
            scores.setdefault(pid, {})["lexical"] = score

        top = sorted(fused, key=fused.__getitem__, reverse=True)[:k]
        missing = [pid for pid in top if pid not in by_id]
        if missing:
            for pid, (text, meta) in self.store.get_passages(missing).items():
                by_id[pid] = Document(id=pid, page_content=text, metadata=meta)
        results = []
        for pid in top:
            if pid not in by_id:  # deleted between the two reads by a concurrent ingest
                continue
            doc = by_id[pid]
            meta = dict(doc.metadata)
            meta.update(id=pid, score=fused[pid], dense=scores[pid].get("dense"), lexical=scores[pid].get("lexical", 0.0))
            meta["sentences"] = json.loads(meta["sentences"]) if isinstance(meta.get("sentences"), str) else meta.get("sentences", [])
            results.append(Document(id=pid, page_content=doc.page_content, metadata=meta))
        return results
