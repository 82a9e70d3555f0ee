"""ingest(paths, corpus) -> IngestReport: load, split, embed and store, idempotently.

Passage ids are derived from (source, offsets, text), so re-running an ingest rewrites
nothing; a changed file gets new passages and loses its stale ones; `prune` drops documents
whose file has gone from an ingested folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .embeddings import SentenceEmbeddings
from .loaders import Skipped, expand_paths, load_paths
from .settings import Settings
from .splitting import content_hash, split
from .store import CorpusStore, open_client, passage_sentence_text, sentence_ids
from .types import Document, Passage


@dataclass
class IngestReport:
    corpus: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"source", "reason"}
    passages_written: int = 0
    duplicate_passages: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def ingest(
    paths: list[str],
    corpus: str,
    settings: Settings,
    prune: bool = False,
    embeddings: SentenceEmbeddings | None = None,
    progress: bool | None = None,
) -> IngestReport:
    expand_paths(paths)  # every path must exist before anything is written
    embeddings = embeddings or SentenceEmbeddings(settings.embed_model)
    store = CorpusStore(open_client(settings), settings, corpus, embeddings.name, create=True)
    report = IngestReport(corpus)
    stored = store.documents()
    seen: set[str] = set()
    pending: list[tuple[Document, list[Passage]]] = []

    for item in load_paths(paths):
        if isinstance(item, Skipped):
            report.skipped.append({"source": item.source, "reason": item.reason})
            continue
        seen.add(item.source)
        passages = split(item, settings.window_chars)
        if not passages:
            report.skipped.append({"source": item.source, "reason": "no sentences to index"})
        elif stored.get(item.source) == passages[0].doc_hash:
            report.unchanged.append(item.source)
        else:
            pending.append((item, passages))

    from tqdm import tqdm

    total = sum(len(p) for _, p in pending)
    with tqdm(total=total, unit="passage", desc=f"ingest {corpus}", disable=None if progress is None else not progress) as bar:
        for document, passages in pending:
            _write(store, embeddings, document, passages, report, is_update=document.source in stored)
            bar.update(len(passages))

    if prune:
        for source in sorted(set(stored) - seen):
            if any(_is_under(source, folder) for folder in paths if os.path.isdir(folder)):
                store.delete_document(source)
                report.removed.append(source)
    if report.changed:
        store.bump_revision()
    return report


def _write(store: CorpusStore, embeddings: SentenceEmbeddings, document: Document,
           passages: list[Passage], report: IngestReport, is_update: bool) -> None:
    hashes = [content_hash(p.text) for p in passages]
    taken = store.duplicates_elsewhere(document.source, hashes)
    keep: list[tuple[Passage, str]] = []
    for passage, digest in zip(passages, hashes):
        if digest in taken:
            report.duplicate_passages += 1
            continue
        taken.add(digest)
        keep.append((passage, digest))
    if not keep:
        if is_update:
            store.delete_document(document.source)
        report.skipped.append({"source": document.source, "reason": "every passage is already indexed from another document"})
        return
    kept = [p for p, _ in keep]
    texts = {sid: passage_sentence_text(p, span) for p in kept for sid, span in zip(sentence_ids(p), p.sentences)}
    vectors = embeddings.encode(list(texts.values()))
    store.replace_document(document.source, kept, [h for _, h in keep], dict(zip(texts, vectors)))
    (report.updated if is_update else report.added).append(document.source)
    report.passages_written += len(keep)


def _is_under(source: str, folder: str) -> bool:
    root = Path(os.path.normpath(folder))
    path = Path(source.split("#", 1)[0])
    return path == root or root in path.parents
