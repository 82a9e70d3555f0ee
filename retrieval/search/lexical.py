"""The BM25 side of hybrid retrieval (bm25s), rebuilt from the passages stored in Chroma.

Chroma keeps no lexical index outside its cloud offering, so the index is derived: built
from what the store holds, cached on disk under the corpus revision, and rebuilt whenever an
ingest bumps the revision. A fresh machine pointed at a shared Chroma server builds the
same index from the same passages.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..store.naming import lexical_folder

TOKEN = re.compile(r"\w\w+")
# Part of the cache key: a change to `terms` must not reuse indexes built the old way.
TOKENISER_VERSION = "en-plus-snowball-1"


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS  # NLTK's list: includes "what", "has", "did"

    return frozenset(STOPWORDS_EN_PLUS)


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed words without stop words: the unit BM25 and the answerer count."""
    stop = _stopwords()
    words = [w for w in TOKEN.findall(text.casefold()) if w not in stop]
    return _stemmer().stemWords(words)


@dataclass
class LexicalIndex:
    ids: list[str]
    bm25: object  # bm25s.BM25
    doc_freq: dict[str, int]

    @property
    def size(self) -> int:
        return len(self.ids)

    def idf(self, term: str) -> float:
        df = self.doc_freq.get(term, 0)
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def coverage(self, question: str) -> Callable[[str], float]:
        """A scorer: the IDF-weighted share of `question`'s terms that a text contains."""
        return _weighted_share({t: self.idf(t) for t in set(terms(question))})

    def known_coverage(self, question: str) -> tuple[float, Callable[[str], float]]:
        """The share of the question's terms that occur anywhere in the corpus (a question
        about something else uses words the corpus never does), and a scorer: the
        IDF-weighted share of those known terms that a text contains."""
        asked = set(terms(question))
        weights = {t: self.idf(t) for t in asked if self.doc_freq.get(t, 0) > 0}
        return (len(weights) / len(asked) if asked else 0.0), _weighted_share(weights)

    def unknown_names(self, question: str) -> float:
        """1.0 when the question names someone or something (a capitalised word past its
        first) that the corpus never mentions: "What is the population of Moscow?" asked of
        documents without a Moscow."""
        names = [terms(w) for w in re.findall(r"(?<!^)(?<![.?!] )\b[A-Z][\w'’-]*[A-Za-z]", question.strip())]
        return float(any(name and not any(self.doc_freq.get(t, 0) for t in name) for name in names))

    def search(self, question_terms: list[str], k: int) -> list[tuple[str, float]]:
        known = [t for t in question_terms if t in self.doc_freq]
        if not known or not self.ids:
            return []
        docs, scores = self.bm25.retrieve([known], k=min(k, self.size), show_progress=False, n_threads=1)
        return [(self.ids[d], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    @classmethod
    def build(cls, ids: list[str], texts: list[str]) -> "LexicalIndex":
        import bm25s

        tokenised = [terms(t) for t in texts]
        doc_freq: dict[str, int] = {}
        for tokens in tokenised:
            for term in set(tokens):
                doc_freq[term] = doc_freq.get(term, 0) + 1
        bm25 = bm25s.BM25()
        if tokenised:
            bm25.index(tokenised, show_progress=False)
        return cls(ids, bm25, doc_freq)

    def save(self, folder: Path) -> None:
        """Write to a private folder, then rename: readers (threads or other processes)
        see a whole index or none, and concurrent writers of one revision both succeed."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            self.bm25.save(str(tmp / "bm25"))
            (tmp / "df.json").write_text(json.dumps(self.doc_freq))
            (tmp / "ids.json").write_text(json.dumps(self.ids))  # written last: marks a whole index
            tmp.rename(folder)
        except OSError:
            if not (folder / "ids.json").is_file():
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # another writer got there first

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        import bm25s

        ids = json.loads((folder / "ids.json").read_text())
        doc_freq = json.loads((folder / "df.json").read_text())
        return cls(ids, bm25s.BM25.load(str(folder / "bm25")), doc_freq)


def _weighted_share(weights: dict[str, float]) -> Callable[[str], float]:
    """A scorer: the weighted share of `weights`' terms that a text contains."""
    total = sum(weights.values()) or 1.0
    return lambda text: sum(weights[t] for t in weights.keys() & set(terms(text))) / total


def lexical_index(store, cache_dir: Path) -> LexicalIndex:
    """The corpus's BM25 index at its current revision: from disk if cached, else rebuilt.

    The revision (store.revision) changes with every document an ingest commits, so an index
    is never reused across a change. One whose corpus changed while it was being read is
    used (readers key it on the revision they saw, so the next question rebuilds it) but not
    saved: it may hold half of a document.
    """
    revision = store.revision()
    folder = lexical_folder(cache_dir, store.corpus, revision, TOKENISER_VERSION)
    if (folder / "ids.json").is_file():
        try:
            return LexicalIndex.load(folder)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt below
    ids, texts = [], []
    for pid, text, _ in store.iter_passages():
        ids.append(pid)
        texts.append(text)
    index = LexicalIndex.build(ids, texts)
    if ids and store.revision() == revision:
        index.save(folder)
        _drop_old_revisions(folder)
    return index


def _drop_old_revisions(current: Path, keep_seconds: float = 600) -> None:
    # Another process may still be reading an older revision: leave recent ones alone.
    cutoff = time.time() - keep_seconds
    for old in current.parent.iterdir():
        try:
            if old != current and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
