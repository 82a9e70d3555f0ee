"""ingest(paths, corpus) -> IngestReport: load, split, embed and store, idempotently.

Passage ids are derived from (source, offsets, text), so re-running an ingest rewrites
nothing; a changed file gets new passages and loses its stale ones; a file that lost its
text loses its passages; `prune` drops documents whose file has gone from an ingested
folder (or whose article has gone from an ingested data-set file).

A passage identical to one already stored from another document is not stored again. When
that other document later changes or goes, the documents that deferred to it are written
again, so their text comes back.

Crash safety: one writer per corpus (locking.py). Each document is committed whole before
the next starts (its new passages, then its stale ones deleted) and the revision is bumped
after it, so readers never trust an index older than what was committed. The run marks the
corpus while it writes; a run that finds the mark left by a killed one finishes its
half-written documents (store.documents() spots them) and sweeps the sentence vectors it
orphaned. Killed at any point, a re-run leaves no duplicated, orphaned or stale passage.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..search.embeddings import SentenceEmbeddings
from ..search.lexical import lexical_index
from ..settings import Settings
from ..store.client import close_client, open_client
from ..store.corpus import CorpusStore, passage_sentence_text, sentence_ids
from ..store.lease import Lease, corpus_writer
from ..store.naming import lexical_cache
from ..store.process_lock import Holder
from ..types import Document, Passage
from .loaders import LoadError, ReadRules, Skipped, expand_paths, load_file, load_paths
from .splitting import content_hash, split

log = logging.getLogger(__name__)
ALL_DUPLICATES = "every passage is already indexed from another document"


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
    recovered: bool = False  # an earlier ingest had been killed; its leftovers were swept

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
    on_document: Callable[[str, int, int], None] | None = None,
    cwd: str | None = None,
    follow_symlinks: bool = False,
    may_read: Callable[[Path, bool], str | None] | None = None,
    holder: Holder | None = None,
) -> IngestReport:
    """`on_document(source, passages_done, passages_total)` is called after each document is
    committed (a `qa serve` that ingests for `qa ingest` reports progress with it); whatever
    it raises stops the ingest there, as Ctrl-C does.

    `cwd`: the folder relative `paths` are relative to when it is not this process's (a
    `qa serve` ingesting for a `qa ingest` run elsewhere). Documents are then named as they
    would be in that folder, so the same files keep the same sources either way.

    `follow_symlinks` and `may_read`: what may be read besides the paths given (ReadRules);
    files larger than QA_MAX_FILE_MB are skipped before they are read.

    `holder`: how this process is named to others it keeps waiting, and what it does while
    it waits for them (process_lock.Holder)."""
    rules = ReadRules.from_megabytes(settings.max_file_mb, follow_symlinks=follow_symlinks, may_read=may_read)
    expand_paths([_located(p, cwd) for p in paths], rules)  # every path must exist before anything is written
    embeddings = embeddings or SentenceEmbeddings.from_settings(settings)
    client = open_client(settings, holder)  # refuses at once if a bot holds the embedded store
    try:
        with corpus_writer(client, settings, corpus, holder) as lease:
            store = CorpusStore(client, settings, corpus, embeddings.name, create=True)
            return _ingest(store, lease, paths, settings, prune, embeddings, progress, on_document, cwd, rules)
    finally:
        close_client(client)


def _located(path: str, cwd: str | None) -> str:
    return path if cwd is None else os.path.normpath(os.path.join(cwd, path))


def _load(paths: list[str], cwd: str | None, rules: ReadRules) -> Iterator[Document | Skipped]:
    """load_paths, with sources named relative to `cwd` as given (see `ingest`)."""
    if cwd is None:
        yield from load_paths(paths, rules)
        return
    named: set[str] = set()
    for given in paths:
        located, name = _located(given, cwd), os.path.normpath(given)
        for item in load_paths([located], rules):
            item = dataclasses.replace(item, source=name + item.source[len(located):])
            if item.source not in named:  # a file named twice is ingested once, as load_paths does
                named.add(item.source)
                yield item


def _ingest(store: CorpusStore, lease: Lease, paths: list[str], settings: Settings, prune: bool,
            embeddings: SentenceEmbeddings, progress: bool | None,
            on_document: Callable[[str, int, int], None] | None, cwd: str | None = None,
            rules: ReadRules = ReadRules()) -> IngestReport:
    corpus = store.corpus
    report = IngestReport(corpus)
    report.recovered = store.unfinished_write() is not None
    stored = store.documents()
    seen: set[str] = set()
    pending: list[tuple[Document, list[Passage]]] = []
    emptied: list[str] = []  # stored documents whose file lost its text

    for item in _load(paths, cwd, rules):
        seen.add(item.source)  # an unreadable file is kept as it was, never pruned
        if isinstance(item, Skipped):
            report.skipped.append({"source": item.source, "reason": item.reason})
            # A refused one (a link now skipped, say) loses what an earlier ingest stored under its name.
            if item.refused and item.source in stored:
                emptied.append(item.source)
            continue
        passages = split(item, settings.window_chars)
        if not passages:
            report.skipped.append({"source": item.source, "reason": "no sentences to index"})
            if item.source in stored:  # the file lost its text: so does the index
                emptied.append(item.source)
        elif item.source in stored and stored[item.source].complete and stored[item.source].doc_hash == passages[0].doc_hash:
            report.unchanged.append(item.source)
        else:
            pending.append((item, passages))

    pruned = sorted(s for s in set(stored) - seen if any(_belongs_to(s, root) for root in paths)) if prune else []
    if not (pending or emptied or pruned or report.recovered):
        return report  # nothing to write: the corpus and its revision stay as they are
    # Marked before the first write (and the revision bumped), so a run killed from here on
    # is known to the next one, and readers stop trusting their lexical cache.
    store.begin_write(f"{socket.gethostname()}:{os.getpid()}")
    finished = False
    try:
        for source in emptied + pruned:  # before writing, so that a document deferring to one gets its text back
            store.delete_document(source)
            report.removed.append(source)

        from tqdm import tqdm

        total = sum(len(p) for _, p in pending)
        done = 0
        with tqdm(total=total, unit="passage", desc=f"ingest {corpus}", disable=None if progress is None else not progress) as bar:
            for document, passages in pending:
                lease.check()  # another writer took over after we stalled: stop writing
                _write(store, embeddings, document, passages, report, is_update=document.source in stored)
                store.bump_revision()  # readers see each document as soon as it is whole
                bar.update(len(passages))  # interrupted here? the next run resumes from this document
                done += len(passages)
                if on_document is not None:
                    on_document(document.source, done, total)

        if report.removed or report.updated:
            _restore_deferred(store, embeddings, settings, stored, report, pending, cwd, rules)
        if report.recovered:  # after writing: resumed documents reused their stored vectors first
            store.sweep_orphans()
        finished = True
    finally:  # also after Ctrl-C: what was written is searchable
        store.end_write(finished)
    _index_lexically(store, settings)
    return report


def _index_lexically(store: CorpusStore, settings: Settings) -> None:
    """Build (and cache) the BM25 index of the revision this ingest leaves, so the first
    question after it loads the index rather than building it. A cache, so a failure here
    fails no ingest: a reader builds it then."""
    try:
        lexical_index(store, lexical_cache(settings.data_dir))
    except (OSError, sqlite3.Error) as exc:
        log.warning("lexical index not cached after the ingest: %s", exc)


def _write(store: CorpusStore, embeddings: SentenceEmbeddings, document: Document,
           passages: list[Passage], report: IngestReport, is_update: bool) -> bool:
    """Store the document's passages except those another document already holds; returns
    whether anything was written."""
    hashes = [content_hash(p.text) for p in passages]
    taken = store.duplicates_elsewhere(document.source, hashes)
    keep: list[tuple[Passage, str]] = []
    for passage, digest in zip(passages, hashes):
        if digest in taken:
            continue
        taken.add(digest)
        keep.append((passage, digest))
    duplicates = len(passages) - len(keep)
    report.duplicate_passages += duplicates
    if not keep:
        report.skipped.append({"source": document.source, "reason": ALL_DUPLICATES})
        if is_update:
            store.delete_document(document.source)
            report.removed.append(document.source)
        return False
    kept = [p for p, _ in keep]
    texts = {sid: passage_sentence_text(p, span) for p in kept for sid, span in zip(sentence_ids(p), p.sentences)}
    known = store.sentence_vectors_by_text(document.source)  # from an earlier or interrupted run
    new = list(dict.fromkeys(t for t in texts.values() if t not in known))
    known.update(zip(new, embeddings.encode_documents(new)))
    store.replace_document(document.source, kept, [h for _, h in keep], {sid: known[t] for sid, t in texts.items()}, duplicates)
    (report.updated if is_update else report.added).append(document.source)
    report.passages_written += len(keep)
    return True


def _restore_deferred(store, embeddings, settings, stored, report, pending, cwd, rules) -> None:
    """Documents that left passages out as duplicates may now hold the only copy: write
    them again (from this run's documents, else from their files)."""
    written = {d.source for d, _ in pending} | set(report.removed)
    in_run = {d.source: (d, p) for d, p in pending}
    candidates = [s for s, state in stored.items() if state.dup_passages and s not in written]
    candidates += [s["source"] for s in report.skipped if s["reason"] == ALL_DUPLICATES and s["source"] not in stored]
    for source in dict.fromkeys(candidates):
        document, passages = in_run.get(source) or _reload(source, settings, cwd, rules)
        if document is None:
            continue
        report.skipped = [s for s in report.skipped if not (s["source"] == source and s["reason"] == ALL_DUPLICATES)]
        if _write(store, embeddings, document, passages, report, is_update=source in stored) and source in report.unchanged:
            report.unchanged.remove(source)


def _reload(source: str, settings: Settings, cwd: str | None, rules: ReadRules) -> tuple[Document | None, list[Passage]]:
    """The document stored as `source` (named relative to `cwd`), from its file as it is now:
    under the ingest's rules, and never through a link (a file replaced by one since)."""
    located = _located(source, cwd)
    article = "#" in source and not os.path.exists(located)  # "set.json#Title": an article of a data set
    name = source.split("#", 1)[0] if article else source
    path = Path(_located(name, cwd))
    try:
        for document in load_file(path, rules, follow=False):
            if name + document.source[len(str(path)):] == source:  # named as the ingest named it
                document = dataclasses.replace(document, source=source)
                return document, split(document, settings.window_chars)
    except (LoadError, OSError):
        pass
    return None, []


def _belongs_to(source: str, root: str) -> bool:
    """Whether a stored document came from `root`: a file under that folder, or an
    article of that data-set file."""
    root_path = Path(os.path.normpath(root))
    if source.startswith(f"{root_path}#"):
        return True
    return os.path.isdir(root_path) and root_path in Path(source).parents
