"""Chroma, embedded (a folder under the data directory) or a server (`chroma run`).

One corpus is two collections: `qa-<corpus>-passages` (the retrieval windows: text, offsets,
metadata, and the mean of their sentences' vectors) and `qa-<corpus>-sentences` (one record
per sentence; a window ranks by its best sentence, which on the development set recalls far
more than one vector per window, and the answerer picks the quote with them). Everything a
second machine needs to answer lives in Chroma; the lexical index is rebuilt from it.

Where a sentence's vector lives: Chroma loads a collection's whole vector index into memory
the first time anything reads the collection, and 100k windows hold ~400k sentences (770 MB
of index). So a corpus created now keeps each sentence's vector in its record's metadata
(float16, base64) and gives the record a one-number placeholder embedding: the sentences are
read by id, never searched. The dense side searches the windows' mean vectors and ranks the
windows it finds by their best sentence (retriever.py). A corpus created before keeps real
sentence embeddings and is searched by sentence, as it always was (`vectors_in_metadata`).

Robustness (docs/robustness.md): an embedded store is opened by one process at a time
(process_lock.py); a write is marked in the corpus's metadata while it runs, so the next ingest
knows when one was killed and sweeps what it left behind; the revision readers key their
caches on changes with every committed document.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import CorpusNotFound, QAError
from ..settings import Settings
from ..types import Passage, Span
from .lease import corpus_writer
from .naming import corpus_of, passages_collection, sentences_collection, span_id
from .process_lock import Holder
from .reachability import reachable

PAGE = 2000  # rows per Chroma read or write; well under its max batch size
VECTORS_IN_METADATA = {"vectors": "metadata"}  # the sentence collection's mark of the layout above
PLACEHOLDER = [1.0]  # the embedding of a sentence record whose vector is in its metadata
RECENT_VECTORS = 4096  # sentence vectors kept after a read (~6 MB): a few questions' worth


@dataclass(frozen=True)
class StoredDocument:
    doc_hash: str
    dup_passages: int  # passages not stored because another document holds the same text
    complete: bool = True


@dataclass(frozen=True)
class CorpusInfo:
    corpus: str
    documents: int
    passages: int
    updated: float | None = None  # when an ingest last wrote it (Unix time); None if none has since this was recorded


class CorpusStore:
    """Reads and writes one corpus. `create=True` makes its collections if missing."""

    def __init__(self, client, settings: Settings, corpus: str, embed_model: str | None, create: bool = False):
        """`embed_model=None` opens the corpus whatever model it was embedded with (for
        listing); otherwise a different recorded model is an error."""
        self.client, self.settings, self.corpus = client, settings, corpus
        self._writing: str | None = None  # the write mark this object keeps while it writes
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()  # sentence vectors lately read
        self._cache_lock = threading.Lock()
        with reachable(settings):
            existing = _collection_names(client)
            if passages_collection(corpus) not in existing and not create:
                raise CorpusNotFound(corpus)
            self.passages = self._collection(passages_collection(corpus), existing, embed_model)
            self.sentences = self._collection(sentences_collection(corpus), existing, embed_model, VECTORS_IN_METADATA)
        self.vectors_in_metadata = all((self.sentences.metadata or {}).get(k) == v for k, v in VECTORS_IN_METADATA.items())
        self.embed_model = (self.passages.metadata or {}).get("embed_model") or embed_model
        if embed_model is not None and self.embed_model != embed_model:
            raise QAError(
                f"corpus '{corpus}' was embedded with '{self.embed_model}', not '{embed_model}'; "
                f"set QA_EMBED_MODEL={self.embed_model} or ingest into a new corpus"
            )

    def _collection(self, name: str, existing: set[str], embed_model: str | None, extra: dict | None = None):
        # get_or_create would overwrite the metadata (and so the revision) of an existing one.
        if name in existing:
            return self.client.get_collection(name, embedding_function=None)
        return self.client.create_collection(
            name,
            metadata={"embed_model": embed_model or "", "revision": "new", **(extra or {})},
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )

    # -- reading ---------------------------------------------------------------------------

    def sentence_store(self, embeddings):
        """LangChain's view of the sentence vectors: the dense side of retrieval in a corpus
        whose sentences have real embeddings (not `vectors_in_metadata`)."""
        from langchain_chroma import Chroma

        return _Reachable(Chroma(
            client=self.client,
            collection_name=self.sentences.name,
            embedding_function=embeddings,
            create_collection_if_not_exists=False,
        ), self.settings)

    def revision(self) -> str:
        """A token that changes whenever the corpus does: what readers key the lexical index on.

        It is the revision an ingest bumps after every document. While a write is marked (an
        ingest running, or killed), the passage count too: an ingest killed after writing but
        before its next bump still changes the count, so a lexical index built before the kill
        is not trusted after it. Unmarked, the revision alone: nothing writes without the mark,
        and counting 100,000 passages took 6 ms of a 75 ms answer.
        """
        metadata = self._metadata()
        revision = metadata.get("revision", "new")
        return f"{revision}.{self.count()}" if metadata.get("writing") else revision

    def _metadata(self) -> dict:
        with reachable(self.settings):
            collection = self.client.get_collection(self.passages.name, embedding_function=None)
        return dict(collection.metadata or {})

    def count(self) -> int:
        with reachable(self.settings):
            return self.passages.count()

    def documents(self) -> dict[str, StoredDocument]:
        """Every document with passages in this corpus, by source. A document whose write
        was interrupted (passages of two versions, or fewer than it should have) is marked
        incomplete, so the next ingest finishes it."""
        hashes: dict[str, set[str]] = {}
        counts: dict[str, int] = {}
        expected: dict[str, int] = {}
        dups: dict[str, int] = {}
        for _, _, meta in self.iter_passages(with_text=False):
            source = meta["source"]
            hashes.setdefault(source, set()).add(meta["doc_hash"])
            counts[source] = counts.get(source, 0) + 1
            expected[source] = int(meta.get("doc_passages", -1))
            dups[source] = int(meta.get("dup_passages", 0))
        return {
            source: StoredDocument(
                next(iter(h)) if len(h) == 1 else "incomplete",
                dups[source],
                complete=len(h) == 1 and counts[source] == expected[source],
            )
            for source, h in hashes.items()
        }

    def sentence_vectors_by_text(self, source: str) -> dict[str, np.ndarray]:
        """The vectors already stored for a document's sentences, by sentence text: an update
        or a resumed ingest re-embeds only what is new."""
        with reachable(self.settings):
            page = self.sentences.get(where={"source": source}, include=["documents", self._vector_field])
        if not page["ids"]:
            return {}
        return dict(zip(page["documents"], self._vectors(page)))

    @property
    def _vector_field(self) -> str:
        return "metadatas" if self.vectors_in_metadata else "embeddings"

    def _vectors(self, page: dict) -> list[np.ndarray]:
        """The sentence vectors of a page read with `_vector_field`."""
        if self.vectors_in_metadata:
            return decode_vectors([m["vector"] for m in page["metadatas"]])
        return list(np.asarray(page["embeddings"], dtype=np.float32))

    def nearest_passages(self, vector: np.ndarray, n: int) -> list[tuple[str, str, dict]]:
        """The `n` windows whose mean vector is nearest `vector`: (id, text, metadata)."""
        with reachable(self.settings):
            found = self.passages.query(query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()],
                                        n_results=n, include=["documents", "metadatas"])
        return list(zip(found["ids"][0], found["documents"][0], found["metadatas"][0]))

    def iter_passages(self, with_text: bool = True) -> Iterator[tuple[str, str | None, dict]]:
        include = ["metadatas", "documents"] if with_text else ["metadatas"]
        offset = 0
        while True:
            with reachable(self.settings):
                page = self.passages.get(include=include, limit=PAGE, offset=offset)
            ids = page["ids"]
            texts = page["documents"] or [None] * len(ids)
            yield from zip(ids, texts, page["metadatas"])
            if len(ids) < PAGE:
                return
            offset += PAGE

    def passage_ids(self) -> list[str]:
        """Every passage id, in the order iter_passages yields them."""
        ids: list[str] = []
        while True:
            with reachable(self.settings):
                page = self.passages.get(include=[], limit=PAGE, offset=len(ids))
            ids.extend(page["ids"])
            if len(page["ids"]) < PAGE:
                return ids

    def get_passages(self, ids: list[str]) -> dict[str, tuple[str, dict]]:
        """The stored text and metadata of each of `ids` still there, read PAGE at a time."""
        found: dict[str, tuple[str, dict]] = {}
        for i in range(0, len(ids), PAGE):
            with reachable(self.settings):
                page = self.passages.get(ids=ids[i : i + PAGE], include=["metadatas", "documents"])
            found.update((pid, (t, m)) for pid, t, m in zip(page["ids"], page["documents"], page["metadatas"]))
        return found

    def passage_at(self, source: str, position: int) -> tuple[str, str, dict] | None:
        """The document's passage at `position` (its index within the document), if stored."""
        with reachable(self.settings):
            page = self.passages.get(where={"$and": [{"source": source}, {"position": position}]},
                                     include=["metadatas", "documents"], limit=1)
        return (page["ids"][0], page["documents"][0], page["metadatas"][0]) if page["ids"] else None

    def sentence_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """The stored vector of each of `ids` still there. Recent ones are kept: the answerer
        asks again for the sentences the dense side just ranked, and an id (derived from the
        sentence's source, offsets and text) always names the same sentence."""
        wanted = list(dict.fromkeys(ids))
        with self._cache_lock:
            found = {sid: self._recent[sid] for sid in wanted if sid in self._recent}
        missing = [sid for sid in wanted if sid not in found]
        if missing:
            with reachable(self.settings):
                page = self.sentences.get(ids=missing, include=[self._vector_field])
            fetched = dict(zip(page["ids"], self._vectors(page)))
            found.update(fetched)
            with self._cache_lock:
                self._recent.update(fetched)
                while len(self._recent) > RECENT_VECTORS:
                    self._recent.popitem(last=False)
        return found

    # -- writing ---------------------------------------------------------------------------

    def stored_hashes(self, source: str) -> set[str]:
        with reachable(self.settings):
            page = self.passages.get(where={"source": source}, include=["metadatas"])
        return {m["doc_hash"] for m in page["metadatas"]}

    def duplicates_elsewhere(self, source: str, content_hashes: list[str]) -> set[str]:
        """Content hashes already indexed from another document of this corpus."""
        found: set[str] = set()
        for i in range(0, len(content_hashes), PAGE):
            with reachable(self.settings):
                page = self.passages.get(
                    where={"$and": [{"content_hash": {"$in": content_hashes[i : i + PAGE]}}, {"source": {"$ne": source}}]},
                    include=["metadatas"],
                )
            found.update(m["content_hash"] for m in page["metadatas"])
        return found

    def replace_document(self, source: str, passages: list[Passage], content_hashes: list[str],
                         sentence_vecs: dict[str, np.ndarray], dup_passages: int = 0) -> None:
        """Write the document's new passages first, then drop its stale ones, so a crash in
        between leaves the old or the new version answerable, never neither.

        `sentence_vecs` maps sentence_id -> vector for every sentence of `passages`.
        """
        sentences: dict[str, tuple[str, list[str]]] = {}  # id -> (text, windows holding it)
        for passage in passages:
            for sid, span in zip(sentence_ids(passage), passage.sentences):
                sentences.setdefault(sid, (passage_sentence_text(passage, span), []))[1].append(passage.id)
        sent_ids = list(sentences)
        with reachable(self.settings):
            for i in range(0, len(sent_ids), PAGE):
                batch = sent_ids[i : i + PAGE]
                metadatas = [{"source": source, "passages": ",".join(sentences[s][1])} for s in batch]
                if self.vectors_in_metadata:
                    for meta, s in zip(metadatas, batch):
                        meta["vector"] = encode_vector(sentence_vecs[s])
                    embeddings = np.array([PLACEHOLDER] * len(batch), dtype=np.float32)
                else:
                    embeddings = np.stack([sentence_vecs[s] for s in batch])
                self.sentences.upsert(ids=batch, embeddings=embeddings, documents=[sentences[s][0] for s in batch],
                                      metadatas=metadatas)
            for i in range(0, len(passages), PAGE):
                batch = passages[i : i + PAGE]
                self.passages.upsert(
                    ids=[p.id for p in batch],
                    embeddings=np.stack([_mean_vector(p, sentence_vecs) for p in batch]),
                    documents=[p.text for p in batch],
                    metadatas=[_metadata(p, h, dup_passages, len(passages)) for p, h in zip(batch, content_hashes[i : i + PAGE])],
                )
            self._delete_stale(source, {p.id for p in passages}, set(sent_ids))

    def delete_document(self, source: str) -> None:
        with reachable(self.settings):
            self._delete_stale(source, set(), set())

    def _delete_stale(self, source: str, keep_passages: set[str], keep_sentences: set[str]) -> None:
        for collection, keep in ((self.passages, keep_passages), (self.sentences, keep_sentences)):
            old = collection.get(where={"source": source}, include=[])["ids"]
            stale = [i for i in old if i not in keep]
            for i in range(0, len(stale), PAGE):
                collection.delete(ids=stale[i : i + PAGE])

    # -- the write mark: an ingest in progress, or killed ---------------------------------

    def unfinished_write(self) -> str | None:
        """Who last began writing this corpus and never finished (a killed ingest), if anyone.
        Only meaningful while holding the corpus (locking.corpus_writer)."""
        return self._metadata().get("writing") or None

    def begin_write(self, writer: str) -> None:
        """Mark the corpus as being written (and tell readers it changes)."""
        self._writing = writer
        self.bump_revision()

    def end_write(self, finished: bool) -> None:
        """Bump the revision so readers see everything written; clear the mark only when the
        run finished, so that after a Ctrl-C the next ingest still sweeps."""
        if finished:
            self._writing = None
        self.bump_revision()

    def bump_revision(self) -> None:
        """Tell every reader (and the lexical cache) that the corpus changed. Chroma's modify
        replaces the whole metadata, so it is written whole."""
        metadata = {"embed_model": self.embed_model, "revision": uuid.uuid4().hex, "updated": time.time()}
        if self._writing:
            metadata["writing"] = self._writing
        with reachable(self.settings):
            self.passages.modify(metadata=metadata)

    # -- repair and audit ------------------------------------------------------------------

    def _iter_sentences(self) -> Iterator[tuple[str, dict]]:
        offset = 0
        while True:
            with reachable(self.settings):
                page = self.sentences.get(include=["metadatas"], limit=PAGE, offset=offset)
            # Without the vector: a caller that keeps them all (audit) keeps ~100 bytes each, not ~1 kB.
            yield from ((sid, {k: v for k, v in m.items() if k != "vector"}) for sid, m in zip(page["ids"], page["metadatas"]))
            if len(page["ids"]) < PAGE:
                return
            offset += PAGE

    def sweep_orphans(self) -> int:
        """Delete sentence vectors that no stored passage uses: what an ingest killed between
        writing a document's sentences and its passages (or between deleting a document's
        passages and its sentences) leaves behind. Returns how many."""
        passage_ids = {pid for pid, _, _ in self.iter_passages(with_text=False)}
        orphans = [sid for sid, meta in self._iter_sentences()
                   if not any(p in passage_ids for p in (meta.get("passages") or "").split(","))]
        with reachable(self.settings):
            for i in range(0, len(orphans), PAGE):
                self.sentences.delete(ids=orphans[i : i + PAGE])
        return len(orphans)

    def audit(self) -> dict:
        """Everything that should be zero in a healthy corpus, counted (tests, qa doctor)."""
        passages: dict[str, dict] = {}
        by_content: dict[str, int] = {}
        needed: set[str] = set()  # the sentence vectors the stored passages rank by
        for pid, text, meta in self.iter_passages():
            passages[pid] = meta
            by_content[meta["content_hash"]] = by_content.get(meta["content_hash"], 0) + 1
            needed.update(sentence_ids_of(text, meta))
        sentences = dict(self._iter_sentences())
        documents = self.documents()
        return {
            "passages": len(passages),
            "sentences": len(sentences),
            "duplicate_passages": sum(n - 1 for n in by_content.values() if n > 1),
            "orphan_sentences": sum(1 for m in sentences.values() if not any(p in passages for p in m["passages"].split(","))),
            "missing_sentences": len(needed - set(sentences)),
            "incomplete_documents": sum(1 for d in documents.values() if not d.complete),
            "unfinished_write": self.unfinished_write(),
        }


def sentence_id(source: str, span: Span, text: str) -> str:
    return span_id(source, span.start, span.end, text)


def encode_vector(vector: np.ndarray) -> str:
    """A sentence vector as metadata: float16 (cosines move by ~1e-3, far below what separates
    sentences), base64."""
    return base64.b64encode(np.asarray(vector, dtype="<f2").tobytes()).decode("ascii")


def decode_vector(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f2").astype(np.float32)


def decode_vectors(texts: list[str]) -> list[np.ndarray]:
    """`decode_vector` of each, in one pass when none is padded (a dimension divisible by 3,
    as 384 and 768 are): ~600 vectors a question at 100,000 passages took 2.5 ms one by one."""
    if not texts or any(text.endswith("=") for text in texts) or len({len(text) for text in texts}) > 1:
        return [decode_vector(text) for text in texts]
    return list(np.frombuffer(base64.b64decode("".join(texts)), dtype="<f2").astype(np.float32).reshape(len(texts), -1))


def sentence_ids_of(text: str, meta: dict) -> list[str]:
    """The sentence ids of a stored window, from its text and metadata (as Chroma returns it)."""
    spans = json.loads(meta["sentences"])
    return [sentence_id(meta["source"], Span(a, b), text[a - meta["start"] : b - meta["start"]]) for a, b in spans]


def sentence_ids(passage: Passage) -> list[str]:
    return [sentence_id(passage.source, s, passage_sentence_text(passage, s)) for s in passage.sentences]


def _mean_vector(passage: Passage, sentence_vecs: dict[str, np.ndarray]) -> np.ndarray:
    # A window's vector is the normalised mean of its sentences' vectors: no second encode.
    # (Retrieval ranks windows by their best sentence; this vector serves other readers.)
    vectors = [sentence_vecs[sid] for sid in sentence_ids(passage)]
    mean = np.mean(vectors, axis=0)
    return mean / (np.linalg.norm(mean) or 1.0)


def passage_sentence_text(passage: Passage, span: Span) -> str:
    return passage.text[span.start - passage.start : span.end - passage.start]


def _metadata(passage: Passage, content_hash: str, dup_passages: int, doc_passages: int) -> dict:
    meta = {
        "dup_passages": dup_passages,
        "doc_passages": doc_passages,
        "source": passage.source,
        "title": passage.title,
        "start": passage.start,
        "end": passage.end,
        "position": passage.position,
        "doc_hash": passage.doc_hash,
        "content_hash": content_hash,
        "sentences": json.dumps([[s.start, s.end] for s in passage.sentences]),
    }
    if passage.date:
        meta["date"] = passage.date
    return meta


def _collection_names(client) -> set[str]:
    return {c.name if hasattr(c, "name") else c for c in client.list_collections()}


def list_corpora(client, settings: Settings) -> list[CorpusInfo]:
    with reachable(settings):
        names = sorted(_collection_names(client))
    infos = []
    for corpus in filter(None, map(corpus_of, names)):
        store = CorpusStore(client, settings, corpus, embed_model=None)
        infos.append(CorpusInfo(store.corpus, len(store.documents()), store.count(), store._metadata().get("updated")))
    return infos


def remove_corpus(client, settings: Settings, corpus: str, holder: Holder | None = None) -> None:
    with corpus_writer(client, settings, corpus, holder), reachable(settings):  # never under a running ingest
        existing = _collection_names(client)
        if passages_collection(corpus) not in existing:
            raise CorpusNotFound(corpus)
        for name in (passages_collection(corpus), sentences_collection(corpus)):
            if name in existing:
                client.delete_collection(name)


class _Reachable:
    """LangChain's Chroma view with the same error handling as every other read: a server
    that went away mid-conversation is StoreUnavailable, not a raw httpx error."""

    def __init__(self, inner, settings: Settings):
        self._inner, self._settings = inner, settings

    def similarity_search_by_vector_with_relevance_scores(self, *args, **kwargs):
        with reachable(self._settings):
            return self._inner.similarity_search_by_vector_with_relevance_scores(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._inner, name)
