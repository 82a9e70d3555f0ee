"""The BM25 side of hybrid retrieval (bm25s), rebuilt from the passages stored in Chroma.

Chroma keeps no lexical index outside its cloud offering, so the index is derived: built
from what the store holds, cached on disk under the corpus revision, and rebuilt whenever an
ingest bumps the revision. A fresh machine pointed at a shared Chroma server builds the
same index from the same passages.

A rebuild tokenises only passages it has not seen: each passage's terms are kept by passage
id (`TermsCache`, SQLite beside the indexes), and an id names its text, so an entry never
goes stale. Ingest builds the index for the revision it leaves, so the first question after
it loads the index instead of tokenising the corpus (25 s at 100,000 passages).
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
import sqlite3
import tempfile
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..store.naming import lexical_folder, lexical_terms

TOKEN = re.compile(r"\w\w+")
# Part of the cache key: a change to `terms` must not reuse indexes built the old way.
TOKENISER_VERSION = "en-plus-snowball-unaccented-initials-american-found-4"
# "U.S.", "U.N.": one word, as "US" and "UN" are, so a question typed either way finds it
# (news writes them dotted; each letter alone was dropped as too short to be a word).
_DOTTED_INITIALS = re.compile(r"\b(?:[A-Za-z]\.){2,}")
_DOTTED_HINT = re.compile(r"\.[A-Za-z]\.")  # a tenth of the cost of the substitution, on news
# A name: a capitalised word past the question's first, or dotted initials.
_NAME_WORD = re.compile(r"(?<!^)(?<![.?!] )\b(?:[A-Z]\.){2,}|(?<!^)(?<![.?!] )\b[A-Z][\w'’-]*[A-Za-z]")
_INITIALISM = re.compile(r"[A-Z]{2,6}s?|(?:[A-Z]\.){2,6}")
# A name's capitalised words, with the small words a name keeps inside it ("Bank of England").
_CONNECTORS = frozenset(("of", "for", "and", "the", "de", "on"))
_NAME_RUN = re.compile(rf"\b[A-Z][\w'’-]*(?:\s+(?:(?:{'|'.join(_CONNECTORS)})\s+)*[A-Z][\w'’-]*)+")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def _bm25s():
    """bm25s, its logger back at WARNING: importing it sets that logger to DEBUG, and once
    anything has put a handler on the root logger (onnxruntime's quantisation calls
    logging.warning() on it during the first ingest), "Building index from tokens" was
    printed to whoever ran `qa ingest`."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


@lru_cache(maxsize=1)
def _read_as() -> Mapping[str, str]:
    """Words read as another before stemming. British spellings as American ("defence":
    "defense", "tyre": "tire"): a question typed in one reads the corpus written in the other.
    Spellings only; words whose meaning differs ("flat", "lorry") are not in it. And "found"
    as "find", its commonest sense: stemmed, "founded" is "found", so "Who founded Google?"
    read as answered by "police found Google searches on his phone"."""
    from breame.data.spelling_constants import BRITISH_ENGLISH_SPELLINGS

    return {**BRITISH_ENGLISH_SPELLINGS, "found": "find"}


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS  # NLTK's list: includes "what", "has", "did"

    return frozenset(STOPWORDS_EN_PLUS)


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed words without stop words or accents, in American spelling: the
    unit BM25 and the answerer count. Accents go because questions are often typed without
    them: "Who was Richard's fiancee?" of "his fiancée"."""
    stop, read_as = _stopwords(), _read_as()
    if _DOTTED_HINT.search(text):
        text = _DOTTED_INITIALS.sub(lambda m: m.group().replace(".", ""), text)
    words = [read_as.get(w, w) for w in TOKEN.findall(_without_accents(text.casefold())) if w not in stop]
    return _stemmer().stemWords(words)


@lru_cache(maxsize=4096)
def term_set(text: str) -> frozenset[str]:
    """`terms` as a set, remembered: the answerer scores each candidate sentence, and each
    with its neighbours, several times a question."""
    return frozenset(terms(text))


_ACCENTS = re.compile("[\u0300-\u036f]")  # combining diacritical marks, split off by NFKD


def _without_accents(text: str) -> str:
    if text.isascii():
        return text
    return _ACCENTS.sub("", unicodedata.normalize("NFKD", text))


@dataclass
class LexicalIndex:
    ids: list[str]
    bm25: object  # bm25s.BM25
    doc_freq: dict[str, int]
    _by_initial: dict[str, list[str]] | None = field(default=None, repr=False)  # doc_freq's terms, on first use
    # Unknown term -> the known one it is read as (itself if none): a question's terms are
    # read for BM25 and again for each coverage scorer.
    _spelled: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def size(self) -> int:
        return len(self.ids)

    def idf(self, term: str) -> float:
        return _idf(self.doc_freq.get(term, 0), self.size)

    def coverage(self, question: str, among: Sequence[str] = (), scale: Mapping[str, float] | None = None
                 ) -> Callable[[str], float]:
        """A scorer: the IDF-weighted share of `question`'s terms (`question_terms`) that a
        text contains.

        With `among` (the sentences the answer is chosen from), each term weighs the
        geometric mean of its IDF in the corpus and its IDF among them: once retrieval has
        found the article, its subject ("Shoigu", "Russia", in nearly every sentence) no
        longer tells its sentences apart, while the word only one of them holds
        ("cooperation") does. In a corpus of one article the corpus IDF says this by
        itself; among 200 documents it does not. `scale`: a factor for some terms' weights."""
        return _weighted_share(self.term_weights(self.question_terms(question), among, scale))

    def term_weights(self, question_terms: Sequence[str], among: Sequence[str] = (),
                     scale: Mapping[str, float] | None = None) -> dict[str, float]:
        """Each term's weight in `coverage`: its IDF in the corpus, or with `among` the
        geometric mean of that and its IDF among those texts; times its `scale`, if any."""
        weights = {t: self.idf(t) for t in set(question_terms)}
        if among:
            held = [term_set(text) for text in among]
            for t, corpus_idf in weights.items():
                weights[t] = math.sqrt(corpus_idf * _idf(sum(t in h for h in held), len(held)))
        for t, factor in (scale or {}).items():
            if t in weights:
                weights[t] *= factor
        return weights

    def question_terms(self, question: str) -> list[str]:
        """The question's terms, each the corpus never uses read as the known term one typo
        away (two for long words; the same first letter), the commonest if several are:
        "argricultural" as "agricultural", "purhcased" as "purchased". Questions are typed in
        a hurry; the documents are not."""
        asked = terms(question)
        unknown = {t for t in asked if t not in self.doc_freq and len(t) >= 5 and not t.isdigit()}
        if not unknown or not self.doc_freq:
            return asked
        spelled = {t: known for t in unknown if (known := self._spelled.get(t)) is not None}
        if len(spelled) < len(unknown):
            spelled.update(self._spell(unknown - spelled.keys()))
        return [spelled.get(t, t) for t in asked]

    def name_terms(self, name: str, texts: Sequence[str] = ()) -> list[str]:
        """A name's terms, one typed a letter wrong read as the corpus's ("Wallce": "Wallace"):
        one edit only, where other long words get two, since a long name two edits from a
        known word is more often another name ("Normandy" and "Norman"). And one
        transliterated with other vowels read as `texts` (the retrieved passages) name it:
        "Kyiv" as "Kiev" (`_respelled`)."""
        from rapidfuzz.distance import DamerauLevenshtein

        spelled = [read if DamerauLevenshtein.distance(asked, read) <= 1 else asked
                   for asked, read in zip(terms(name), self.question_terms(name))]
        if texts and not all(t in self.doc_freq for t in spelled):
            named = _names_by_consonants(tuple(texts))
            spelled = [t if t in self.doc_freq else _respelled(t, named) for t in spelled]
        return spelled

    def _spell(self, unknown: set[str]) -> dict[str, str]:
        from rapidfuzz.distance import DamerauLevenshtein
        from rapidfuzz.process import extract

        if self._by_initial is None:  # a typo seldom hits the first letter: 1/26 of the terms to compare
            by_initial: dict[str, list[str]] = {}
            for known in self.doc_freq:
                by_initial.setdefault(known[0], []).append(known)
            self._by_initial = by_initial  # whole, for a thread answering at the same time
        if len(self._spelled) > 10_000:  # a long-running bot's typos: kept bounded
            self._spelled.clear()
        spelled = {}
        for term in unknown:
            edits = 1 if len(term) < 8 else 2
            near = extract(term, self._by_initial.get(term[0], []), scorer=DamerauLevenshtein.distance,
                           score_cutoff=edits, limit=None)
            spelled[term] = min(near, key=lambda m: (m[1], -self.doc_freq[m[0]]))[0] if near else term
        self._spelled.update(spelled)
        return spelled

    def known_coverage(self, question: str, texts: Sequence[str] = ()) -> tuple[float, Callable[[str], float]]:
        """The share of the question's terms that occur anywhere in the corpus (a question
        about something else uses words the corpus never does), and a scorer: the
        IDF-weighted share of those known terms that a text contains, each as asked: no typo
        reading and no credit for other forms of a word, which made more of the questions a
        corpus does not answer look answered (development sets). Names excepted: one typed a
        letter wrong is the corpus's name, and one transliterated the name `texts` (the retrieved
        passages) spell (`name_terms`), or a single typo refuses a question."""
        names = {t: read for m in _NAME_WORD.finditer(question.strip())
                 for t, read in zip(terms(m.group()), self.name_terms(m.group(), texts))}
        asked = {names.get(t, t) for t in terms(question)}
        weights = {t: self.idf(t) for t in asked if self.doc_freq.get(t, 0) > 0}
        return (len(weights) / len(asked) if asked else 0.0), _weighted_share(weights, related_credit=0.0)

    def unknown_names(self, question: str, texts: Sequence[str] = ()) -> float:
        """1.0 when the question names someone or something (a capitalised word past its
        first) that the corpus never mentions: "What is the population of Moscow?" asked of
        documents without a Moscow; not one typed a letter wrong, nor one the retrieved
        passages (`texts`) transliterate another way ("Kyiv", "Kiev": `name_terms`). Initials and
        the name they stand for are the same name: "EU" is mentioned where `texts` (the
        retrieved passages) say "the European Union", and "European Union" where the corpus
        has "EU"."""
        question = question.strip()
        unknown = {m.start(): m.group() for m in _NAME_WORD.finditer(question)
                   if (name := self.name_terms(m.group(), texts)) and not any(self.doc_freq.get(t, 0) for t in name)}
        for run in _name_runs(question):  # "European Union" where the corpus says "EU"
            for i, j, initials in _initials(run):
                if self.doc_freq.get(initials, 0):
                    for at, _ in run[i:j]:
                        unknown.pop(at, None)
        if any(_INITIALISM.fullmatch(word) for word in unknown.values()):  # "EU" where the passages say "the European Union"
            spelled = {initials for text in texts for run in _name_runs(text) for _, _, initials in _initials(run)}
            unknown = {at: w for at, w in unknown.items() if w.removesuffix("s").replace(".", "").lower() not in spelled}
        return float(bool(unknown))

    def search(self, question_terms: list[str], k: int) -> list[tuple[str, float]]:
        known = [t for t in question_terms if t in self.doc_freq]
        if not known or not self.ids:
            return []
        docs, scores = self.bm25.retrieve([known], k=min(k, self.size), show_progress=False, n_threads=1)
        return [(self.ids[d], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    @classmethod
    def build(cls, ids: list[str], texts: list[str]) -> "LexicalIndex":
        return cls.from_terms(ids, [terms(t) for t in texts])

    @classmethod
    def from_terms(cls, ids: list[str], tokenised: list[list[str]]) -> "LexicalIndex":
        bm25s = _bm25s()
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
        bm25s = _bm25s()
        ids = json.loads((folder / "ids.json").read_text())
        doc_freq = json.loads((folder / "df.json").read_text())
        # Memory-mapped: a search reads only its terms' columns, so a large corpus's index
        # costs the pages it touches, not its size. (A folder replaced meanwhile stays
        # readable: its files live on while they are mapped.)
        return cls(ids, bm25s.BM25.load(str(folder / "bm25"), mmap=True), doc_freq)


def phrase_coverage(question: str, scale: Mapping[str, float] | None = None) -> Callable[[str], float]:
    """A scorer: the share of the question's adjacent term pairs ("russia consid" in "What
    has Russia considered?") that a text holds adjacent too, stop words aside. Words in the
    question's order say more than the same words scattered through a long sentence.
    `scale`: a factor for some terms, as in `LexicalIndex.coverage`; a pair weighs its
    lesser term's."""
    scale = scale or {}
    asked = {pair: min(scale.get(pair[0], 1.0), scale.get(pair[1], 1.0)) for pair in _pairs(terms(question))}
    total = sum(asked.values())
    if not total:
        return lambda text: 0.0
    return lambda text: sum(asked.get(pair, 0.0) for pair in _pairs(terms(text))) / total


def _pairs(words: list[str]) -> set[tuple[str, str]]:
    return set(zip(words, words[1:]))


# A question's term that a text holds only in another form of the word ("history" for
# "historical", "Russia" for "Russian", "diplomacy" for "diplomatic": the stemmer keeps these
# apart) counts for this share of its weight. Chosen on the development sets (SQuAD 2.0's
# first five +0.4 points of quote accuracy, the others unchanged). Only in choosing the quote:
# the abstention's coverage (`known_coverage`) gives it none.
RELATED_CREDIT = 0.5
_STEM_PREFIX = 5  # shorter stems are too often different words ("part", "party")


def related(a: str, b: str) -> bool:
    """Whether two different stems are forms of one word: both at least five letters, and one
    is the other, but for at most its last letter, followed by more ("histor" and "histori")."""
    shorter = min(len(a), len(b))
    if a == b or shorter < _STEM_PREFIX or a[:_STEM_PREFIX] != b[:_STEM_PREFIX]:
        return False
    same = next((i for i in range(_STEM_PREFIX, shorter) if a[i] != b[i]), shorter)
    return same >= shorter - 1


def _idf(df: int, size: int) -> float:
    """BM25's IDF of a term held by `df` of `size` texts (never negative)."""
    return math.log(1 + (size - df + 0.5) / (df + 0.5))


def _weighted_share(weights: dict[str, float], related_credit: float = RELATED_CREDIT) -> Callable[[str], float]:
    """A scorer: the weighted share of `weights`' terms that a text contains, a term held
    only in a related form (`related`) counting for `related_credit` of its weight."""
    total = sum(weights.values()) or 1.0
    if not related_credit:
        return lambda text: sum(weights[t] for t in weights.keys() & term_set(text)) / total
    by_prefix: dict[str, list[str]] = {}
    for term in weights:
        by_prefix.setdefault(term[:_STEM_PREFIX], []).append(term)

    def share(text: str) -> float:
        held = term_set(text)
        found = sum(weights[t] for t in weights.keys() & held)
        forms = {t for other in held for t in by_prefix.get(other[:_STEM_PREFIX], ()) if t not in held and related(t, other)}
        return (found + related_credit * sum(weights[t] for t in forms)) / total

    return share


def lexical_index(store, cache_dir: Path) -> LexicalIndex:
    """The corpus's BM25 index at its current revision: from disk if cached, else rebuilt
    (tokenising only the passages the terms cache lacks).

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
    ids = store.passage_ids()
    with TermsCache(lexical_terms(cache_dir, store.corpus, TOKENISER_VERSION)) as cache:
        known = cache.get(ids)
        missing = [i for i in ids if i not in known]
        new = {pid: terms(text) for pid, (text, _) in store.get_passages(missing).items()}
        cache.put(new)
        known.update(new)
        if len(ids) > 1000 and cache.size() > 2 * len(ids):  # mostly passages since replaced
            cache.keep_only(set(ids))
    ids = [i for i in ids if i in known]  # one deleted meanwhile: the revision check below sees it
    index = LexicalIndex.from_terms(ids, [known[i] for i in ids])
    if ids and store.revision() == revision:
        index.save(folder)
        _drop_old_revisions(folder)
    return index


class TermsCache:
    """Each passage's terms by passage id. An id is derived from the passage's source,
    offsets and text, so what is stored under it is right for as long as the tokeniser
    (part of the file name) is the same; any process may add to it."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=30)
        self._db.execute("CREATE TABLE IF NOT EXISTS terms (id TEXT PRIMARY KEY, terms TEXT NOT NULL)")

    def __enter__(self) -> "TermsCache":
        return self

    def __exit__(self, *_) -> None:
        self._db.close()

    def get(self, ids: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for i in range(0, len(ids), 500):  # under SQLite's limit on parameters
            batch = ids[i : i + 500]
            rows = self._db.execute(f"SELECT id, terms FROM terms WHERE id IN ({','.join('?' * len(batch))})", batch)
            found.update((pid, text.split(" ") if text else []) for pid, text in rows)
        return found

    def put(self, items: dict[str, list[str]]) -> None:
        with self._db:  # terms hold no spaces (\w runs, stemmed)
            self._db.executemany("INSERT OR REPLACE INTO terms VALUES (?, ?)", ((k, " ".join(v)) for k, v in items.items()))

    def size(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM terms").fetchone()[0]

    def keep_only(self, ids: set[str]) -> None:
        stale = [pid for (pid,) in self._db.execute("SELECT id FROM terms") if pid not in ids]
        with self._db:
            self._db.executemany("DELETE FROM terms WHERE id = ?", ((pid,) for pid in stale))


def _drop_old_revisions(current: Path, keep_seconds: float = 600) -> None:
    # Another process may still be reading an older revision: leave recent ones alone.
    cutoff = time.time() - keep_seconds
    for old in current.parent.iterdir():
        try:
            if old != current and old.is_dir() and old.stat().st_mtime < cutoff:  # not the terms cache
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass


def _name_runs(text: str) -> list[list[tuple[int, str]]]:
    """Each run of two or more capitalised words, as (offset, word) without its small words."""
    runs = []
    for m in _NAME_RUN.finditer(text):
        run = [(m.start() + w.start(), w.group()) for w in re.finditer(r"[\w'’-]+", m.group()) if w.group() not in _CONNECTORS]
        if len(run) >= 2:
            runs.append(run)
    return runs


def _initials(run: list[tuple[int, str]]) -> list[tuple[int, int, str]]:
    """(i, j, the initials of words i..j-1, lower-cased) for every stretch of two or more words."""
    return [(i, j, "".join(w[0] for _, w in run[i:j]).lower())
            for i in range(len(run)) for j in range(i + 2, min(len(run), i + 6) + 1)]


@lru_cache(maxsize=4)
def _names_by_consonants(texts: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """The terms of the names (capitalised words past a sentence's first) in `texts`, by
    `_vowels_aside`; remembered, as each name of a question looks them up."""
    found: dict[str, set[str]] = {}
    for text in texts:
        for m in _NAME_WORD.finditer(text):
            for term in terms(m.group()):
                found.setdefault(_vowels_aside(term), set()).add(term)
    return {key: frozenset(names) for key, names in found.items()}


def _vowels_aside(term: str) -> str:
    """`term` with each run of vowels (y among them) as one "a", and doubled letters as one:
    "kyiv" and "kiev" both "kav"."""
    return re.sub(r"[aeiouy]+", "a", re.sub(r"(.)\1+", r"\1", term))


def _respelled(term: str, named: Mapping[str, frozenset[str]]) -> str:
    """The name of `named` that `term` transliterates with other vowels ("kyiv": "kiev"),
    else `term`: the same consonants in the same order, at most two letters changed, four
    letters at least. The consonants carry a name; with more changed, "harri" (Harry)
    would be "hierro"."""
    from rapidfuzz.distance import DamerauLevenshtein

    if len(term) < 4:
        return term
    near = [(distance, other) for other in named.get(_vowels_aside(term), ())
            if (distance := DamerauLevenshtein.distance(term, other)) <= 2]
    return min(near)[1] if near else term
