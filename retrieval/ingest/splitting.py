"""Document -> Passages: sentence windows with exact character offsets, de-duplicated.

The unit retrieved (a window of several sentences) and the unit quoted (one or two
sentences) differ on purpose: news paragraphs are often a single sentence, and a window
gives the retriever context while the answerer can still quote one sentence exactly.
"""

from __future__ import annotations

import hashlib
import re
import statistics

from ..store.naming import span_id
from ..types import Document, Passage, Span

PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
HARD_LINE_END = re.compile(r"[.!?:;\"”’')\]]\s*$")
# Sentences run together with no space ("...said.Shoigu asked"), as in the seed's first line.
RUN_TOGETHER = re.compile(r"(?<=[a-z0-9][.!?])(?=[\"“]?[A-Z][a-z])|(?<=[a-z0-9][.!?][\"”])(?=[A-Z][a-z])")
# A paragraph this many times the median length is checked for being a digest of others.
# Part of every document hash: a change to how documents are split re-splits them on ingest.
SPLITTER_VERSION = "sentence-windows-2"  # 2: a window reaches the end of its paragraph
DIGEST_MIN_RATIO = 3
DIGEST_MAX_RESIDUE = 0.1
# The digest check compares every long paragraph with every other one: quadratic, so a file of
# many short lines took minutes (60 KB: 4 s; 600 KB: ~7 min, extrapolated). Past this many
# paragraphs it is skipped (a digest leads a short news article). Existing indexes stay valid:
# their offsets still point into the same text, so SPLITTER_VERSION is unchanged.
DIGEST_MAX_PARAGRAPHS = 1000


def normalise(text: str) -> str:
    """Key for "the same text": case, spacing and punctuation do not matter."""
    return re.sub(r"\W+", "", text.casefold())


def content_hash(text: str) -> str:
    return hashlib.sha1(normalise(text).encode()).hexdigest()[:16]


def paragraphs(text: str, start: int = 0) -> list[Span]:
    """Blank lines always separate paragraphs; a single line break does when the line
    ends a sentence (otherwise it is a soft wrap, as in text extracted from PDFs)."""
    spans: list[Span] = []
    for block in _split(text, PARAGRAPH_BREAK, start, len(text)):
        line_start = block.start  # of the paragraph being built
        this_line = block.start
        for match in re.finditer(r"\n", text[block.start : block.end]):
            nl = block.start + match.start()
            # Only the line just read is searched: searching the whole paragraph so far made a
            # long run of soft-wrapped lines quadratic (40,000 lines took 21 s). Same result: the
            # earlier lines of the paragraph did not end a sentence, or it would have been cut.
            if HARD_LINE_END.search(text, this_line, nl):
                spans.append(Span(line_start, nl))
                line_start = nl + 1
            this_line = nl + 1
        spans.append(Span(line_start, block.end))
    return [s for s in (_strip(text, s) for s in spans) if s.end > s.start]


def sentences(text: str, paragraph: Span) -> list[Span]:
    import blingfire

    # Soft wraps become spaces (same length) so offsets stay exact.
    chunk = text[paragraph.start : paragraph.end].replace("\n", " ")
    _, offsets = blingfire.text_to_sentences_and_offsets(chunk)
    spans: list[Span] = []
    for begin, end in offsets:
        cuts = [begin, *(begin + m.start() for m in RUN_TOGETHER.finditer(chunk[begin:end])), end]
        spans.extend(Span(paragraph.start + a, paragraph.start + b) for a, b in zip(cuts, cuts[1:]))
    return [s for s in (_strip(text, s) for s in spans) if s.end > s.start]


def indexable_sentences(document: Document) -> list[list[Span]]:
    """The document's sentences worth indexing, as runs of consecutive sentences.

    Dropped: a paragraph that only repeats other paragraphs run together (a digest, such
    as the seed's first line), and any sentence already seen earlier in the document.
    """
    text = document.text
    paras = paragraphs(text, document.body_start)
    digests = _digest_paragraphs(text, paras)
    seen: set[str] = set()
    runs: list[list[Span]] = [[]]
    for index, para in enumerate(paras):
        if index in digests:
            runs.append([])
            continue
        for sentence in sentences(text, para):
            key = normalise(text[sentence.start : sentence.end])
            if not key or key in seen:
                runs.append([])  # a window never spans a dropped sentence
                continue
            seen.add(key)
            runs[-1].append(sentence)
    return [run for run in runs if run]


def windows(run: list[Span], window_chars: int, paragraph_ends: frozenset[int] = frozenset()) -> list[list[Span]]:
    """Consecutive sentences grouped up to `window_chars`; neighbours share one sentence
    so that an answer split across a window edge is still whole in one of them.

    A window that would stop inside a paragraph runs on to the paragraph's end (a sentence
    end in `paragraph_ends`) while it stays within twice `window_chars`: a paragraph is the
    unit its sentences were written in, so an encyclopaedia paragraph stays whole while
    news, whose paragraphs are a sentence or two, still gets windows of several."""
    result: list[list[Span]] = []
    i = 0
    while i < len(run):
        j = i + 1
        while j < len(run) and run[j].end - run[i].start <= window_chars:
            j += 1
        k = j
        while k < len(run) and run[k - 1].end not in paragraph_ends and run[k].end - run[i].start <= 2 * window_chars:
            k += 1
        if run[k - 1].end in paragraph_ends:
            j = k
        result.append(run[i:j])
        if j >= len(run):
            break
        i = j - 1 if j - 1 > i else j
    return result


def split(document: Document, window_chars: int) -> list[Passage]:
    doc_hash = document_hash(document, window_chars)
    passages: list[Passage] = []
    ends = frozenset(p.end for p in paragraphs(document.text, document.body_start))
    for run in indexable_sentences(document):
        for window in windows(run, window_chars, ends):
            start, end = window[0].start, window[-1].end
            text = document.text[start:end]
            pid = span_id(document.source, start, end, text)
            passages.append(
                Passage(
                    id=pid,
                    source=document.source,
                    title=document.title,
                    date=document.date,
                    start=start,
                    end=end,
                    text=text,
                    sentences=tuple(window),
                    doc_hash=doc_hash,
                    position=len(passages),
                )
            )
    return passages


def document_hash(document: Document, window_chars: int) -> str:
    """Changes when the document or the way it is split changes."""
    key = "\x1f".join([document.text, document.title, document.date or "", str(window_chars), SPLITTER_VERSION])
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def _digest_paragraphs(text: str, paras: list[Span]) -> set[int]:
    if len(paras) < 3 or len(paras) > DIGEST_MAX_PARAGRAPHS:
        return set()
    keys = [normalise(text[p.start : p.end]) for p in paras]
    median = statistics.median(len(k) for k in keys)
    digests: set[int] = set()
    for i, key in enumerate(keys):
        if len(key) < DIGEST_MIN_RATIO * median:
            continue
        residue, found = key, 0
        for j, other in enumerate(keys):
            if j != i and other and j not in digests and other in residue:
                residue = residue.replace(other, "", 1)
                found += 1
        if found >= 2 and len(residue) <= DIGEST_MAX_RESIDUE * len(key):
            digests.add(i)
    return digests


def _split(text: str, pattern: re.Pattern, start: int, end: int) -> list[Span]:
    spans, pos = [], start
    for match in pattern.finditer(text, start, end):
        spans.append(Span(pos, match.start()))
        pos = match.end()
    spans.append(Span(pos, end))
    return spans


def _strip(text: str, span: Span) -> Span:
    start, end = span.start, span.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end)
