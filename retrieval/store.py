"""Chroma, embedded (a folder under the data directory) or a server (`chroma run`).

One corpus is two collections: `qa-<corpus>-passages` (the retrieval windows: text, offsets,
metadata) and `qa-<corpus>-sentences` (one vector per sentence, searched through LangChain's
`Chroma` vector store; a window ranks by its best sentence, which on the development set
recalls far more than one vector per window, and the answerer picks the quote with them).
Everything a second machine needs to answer lives in Chroma; the lexical index is rebuilt
from it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .errors import CorpusNotFound, QAError, StoreUnavailable
from .settings import Settings
from .types import Passage, Span

PREFIX, PASSAGES, SENTENCES = "qa-", "-passages", "-sentences"
PAGE = 2000  # rows per Chroma read or write; well under its max batch size


def passages_collection(corpus: str) -> str:
    return f"{PREFIX}{corpus}{PASSAGES}"


def sentences_collection(corpus: str) -> str:
    return f"{PREFIX}{corpus}{SENTENCES}"


def sentence_id(source: str, span: Span, text: str) -> str:
    import hashlib

    return hashlib.sha1(f"{source}\x1f{span.start}\x1f{span.end}\x1f{text}".encode()).hexdigest()


@contextmanager
def reachable(settings: Settings) -> Iterator[None]:
    """Turn "the Chroma server is down" into one actionable error."""
    try:
        yield
    except (QAError, KeyboardInterrupt):
        raise
    except Exception as exc:  # chromadb raises assorted httpx/ValueError types
        if settings.server_mode and _looks_like_connection_error(exc):
            raise StoreUnavailable(
                f"cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port}; "
                "start it (chroma run --path DIR --port PORT) or unset CHROMA_HOST to use the "
                "embedded store"
            ) from exc
        status = _http_status(exc) if settings.server_mode else None
        if status is not None:
            raise StoreUnavailable(
                f"{settings.chroma_host}:{settings.chroma_port} did not answer as a Chroma server "
                f"(HTTP {status}); check CHROMA_HOST and CHROMA_PORT"
            ) from exc
        raise


def _causes(exc: BaseException | None) -> Iterator[BaseException]:
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an error from something that is not (or not quite) Chroma."""
    import httpx

    return next((e.response.status_code for e in _causes(exc) if isinstance(e, httpx.HTTPStatusError)), None)


def _looks_like_connection_error(exc: BaseException) -> bool:
    import httpx

    return any(
        isinstance(e, (httpx.TransportError, ConnectionError, TimeoutError)) or "connect" in str(e).lower()
        for e in _causes(exc)
    )


def open_client(settings: Settings):
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
    with reachable(settings):
        if settings.server_mode:
            client = chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
            client.heartbeat()
            return client
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise QAError(f"cannot use data directory {settings.data_dir}: {exc.strerror or exc}; set QA_DATA_DIR or --data-dir") from exc
        return chromadb.PersistentClient(path=str(settings.data_dir / "chroma"), settings=chroma_settings)


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


class CorpusStore:
    """Reads and writes one corpus. `create=True` makes its collections if missing."""

    def __init__(self, client, settings: Settings, corpus: str, embed_model: str | None, create: bool = False):
        """`embed_model=None` opens the corpus whatever model it was embedded with (for
        listing); otherwise a different recorded model is an error."""
        self.client, self.settings, self.corpus = client, settings, corpus
        with reachable(settings):
            existing = _collection_names(client)
            if passages_collection(corpus) not in existing and not create:
                raise CorpusNotFound(corpus)
            self.passages = self._collection(passages_collection(corpus), existing, embed_model)
            self.sentences = self._collection(sentences_collection(corpus), existing, embed_model)
        self.embed_model = (self.passages.metadata or {}).get("embed_model") or embed_model
        if embed_model is not None and self.embed_model != embed_model:
            raise QAError(
                f"corpus '{corpus}' was embedded with '{self.embed_model}', not '{embed_model}'; "
                f"set QA_EMBED_MODEL={self.embed_model} or ingest into a new corpus"
            )

    def _collection(self, name: str, existing: set[str], embed_model: str | None):
        # get_or_create would overwrite the metadata (and so the revision) of an existing one.
        if name in existing:
            return self.client.get_collection(name, embedding_function=None)
        return self.client.create_collection(
            name,
            metadata={"embed_model": embed_model or "", "revision": "new"},
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )

    # -- reading ---------------------------------------------------------------------------

    def sentence_store(self, embeddings):
        """LangChain's view of the sentence vectors: the dense side of retrieval."""
        from langchain_chroma import Chroma

        return Chroma(
            client=self.client,
            collection_name=self.sentences.name,
            embedding_function=embeddings,
            create_collection_if_not_exists=False,
        )

    def revision(self) -> str:
        with reachable(self.settings):
            collection = self.client.get_collection(self.passages.name, embedding_function=None)
        return str((collection.metadata or {}).get("revision", "new"))

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
            page = self.sentences.get(where={"source": source}, include=["documents", "embeddings"])
        if not page["ids"]:
            return {}
        return dict(zip(page["documents"], np.asarray(page["embeddings"], dtype=np.float32)))

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

    def get_passages(self, ids: list[str]) -> dict[str, tuple[str, dict]]:
        with reachable(self.settings):
            page = self.passages.get(ids=ids, include=["metadatas", "documents"])
        return {i: (t, m) for i, t, m in zip(page["ids"], page["documents"], page["metadatas"])}

    def sentence_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        with reachable(self.settings):
            page = self.sentences.get(ids=ids, include=["embeddings"])
        return dict(zip(page["ids"], np.asarray(page["embeddings"], dtype=np.float32)))

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
                self.sentences.upsert(
                    ids=batch,
                    embeddings=np.stack([sentence_vecs[s] for s in batch]),
                    documents=[sentences[s][0] for s in batch],
                    metadatas=[{"source": source, "passages": ",".join(sentences[s][1])} for s in batch],
                )
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

    def bump_revision(self) -> None:
        """Tell every reader (and the lexical cache) that the corpus changed."""
        with reachable(self.settings):
            self.passages.modify(metadata={"embed_model": self.embed_model, "revision": uuid.uuid4().hex})


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
    for name in names:
        if name.startswith(PREFIX) and name.endswith(PASSAGES):
            store = CorpusStore(client, settings, name[len(PREFIX) : -len(PASSAGES)], embed_model=None)
            infos.append(CorpusInfo(store.corpus, len(store.documents()), store.count()))
    return infos


def remove_corpus(client, settings: Settings, corpus: str) -> None:
    with reachable(settings):
        existing = _collection_names(client)
        if passages_collection(corpus) not in existing:
            raise CorpusNotFound(corpus)
        for name in (passages_collection(corpus), sentences_collection(corpus)):
            if name in existing:
                client.delete_collection(name)
