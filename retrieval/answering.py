"""Extractive answerer: the shortest span (one or two sentences) of the retrieved passages
that answers the question, quoted verbatim with its offsets, or an honest abstention.

Each candidate sentence is scored on three signals: the cosine between its stored vector
and the question's, the share of the question's (IDF-weighted) terms it contains, and how
well its passage ranked. Weights and thresholds were tuned on the development sets named
in ../shared/eval/README.md (seed questions and the first five SQuAD 2.0 articles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from langchain_core.documents import Document
from pydantic import BaseModel, Field

from .injection import looks_like_injection
from .lexical import LexicalIndex
from .store import CorpusStore, sentence_id
from .types import Answer, Citation, RetrievedPassage, Span

ABSTAIN_TEXT = "The corpus does not cover this question: no passage in '{corpus}' answers it."


class AnswerSettings(BaseModel):
    """Chosen with bench/tune_answerer.py on the development sets."""

    lexical_weight: float = Field(0.8, ge=0, description="Weight of term coverage beside the cosine.")
    rank_weight: float = Field(0.05, ge=0, description="Bonus for sentences of better-ranked passages.")
    # Abstain when no sentence reaches this relevance (cosine + lexical_weight * coverage).
    # On the development sets every off-topic question (1,418) stayed below it and 99.4% of
    # the answerable SQuAD questions reached it.
    min_confidence: float = Field(0.62)
    # Quote the neighbouring sentence too when it scores this close to the best one.
    pair_ratio: float = Field(0.75, ge=0, le=2)  # above 1: never quote a pair
    max_quote_chars: int = Field(400, ge=50)
    other_citation_ratio: float = Field(0.85, ge=0, le=1)


@dataclass
class Candidate:
    passage: Document
    rank: int
    span: Span
    text: str
    dense: float
    lexical: float
    score: float = 0.0
    index: int = 0  # position among the candidates of its passage


class ExtractiveAnswerer:
    def __init__(self, store: CorpusStore, settings: AnswerSettings | None = None, max_citations: int = 3):
        self.store = store
        self.settings = settings or AnswerSettings()
        self.max_citations = max_citations

    def answer(self, question: str, question_vector: np.ndarray, passages: list[Document],
               lexical: LexicalIndex, exclude: list[tuple[str, int, int]] = ()) -> Answer:
        """`exclude`: (source, start, end) spans already quoted in this conversation."""
        retrieved = [
            RetrievedPassage(p.metadata["source"], p.metadata["start"], p.metadata["end"], p.page_content, round(p.metadata["score"], 6))
            for p in passages
        ]
        candidates = [
            c for c in self.candidates(question, question_vector, passages, lexical)
            if not any(src == c.passage.metadata["source"] and c.span.start < end and start < c.span.end for src, start, end in exclude)
        ]
        quotes = self.select(candidates)
        if not quotes:
            return Answer(question=question, answer=ABSTAIN_TEXT.format(corpus=self.store.corpus), abstained=True, passages=retrieved)
        citations = [self._citation(quote) for quote in quotes]
        return Answer(question=question, answer=citations[0].quote, abstained=False, citations=citations, passages=retrieved)

    def select(self, candidates: list[Candidate]) -> list[list[Candidate]]:
        """Scores the candidates; returns the quotes to cite, best first, or [] to abstain."""
        s = self.settings
        relevance = [c.dense + s.lexical_weight * c.lexical for c in candidates]
        if not candidates or max(relevance) < s.min_confidence:
            return []
        for c, r in zip(candidates, relevance):
            c.score = r + s.rank_weight / (1 + c.rank)
        best = max(candidates, key=lambda c: c.score)
        quotes = [self._quote(best, candidates)]
        for other in sorted(candidates, key=lambda c: c.score, reverse=True):
            if len(quotes) >= self.max_citations or other.score < s.other_citation_ratio * best.score:
                break
            if not any(_overlaps(other, q) for q in quotes):
                quotes.append([other])
        return quotes

    def candidates(self, question: str, vector: np.ndarray, passages: list[Document], lexical: LexicalIndex) -> list[Candidate]:
        coverage = lexical.coverage(question)
        seen: dict[str, Candidate] = {}
        order: list[tuple[str, Candidate]] = []
        for rank, passage in enumerate(passages):
            meta = passage.metadata
            for index, (start, end) in enumerate(meta["sentences"]):
                text = passage.page_content[start - meta["start"] : end - meta["start"]]
                sid = sentence_id(meta["source"], Span(start, end), text)
                if sid in seen or looks_like_injection(text):  # an instruction to a bot is no answer
                    continue
                candidate = Candidate(passage, rank, Span(start, end), text, 0.0, coverage(text), index=index)
                seen[sid] = candidate
                order.append((sid, candidate))
        if not order:
            return []
        vectors = self.store.sentence_vectors([sid for sid, _ in order])
        for sid, candidate in order:
            if sid in vectors:
                candidate.dense = float(vectors[sid] @ vector)
        return [c for _, c in order]

    def _quote(self, best: Candidate, candidates: list[Candidate]) -> list[Candidate]:
        """The best sentence, with its better neighbour in the same passage when that one
        scores nearly as well and the pair stays short."""
        neighbours = [
            c for c in candidates
            if c.passage is best.passage and abs(c.index - best.index) == 1
        ]
        if neighbours:
            other = max(neighbours, key=lambda c: c.score)
            span = (min(best.span.start, other.span.start), max(best.span.end, other.span.end))
            if other.score >= self.settings.pair_ratio * best.score and span[1] - span[0] <= self.settings.max_quote_chars:
                return sorted([best, other], key=lambda c: c.span.start)
        return [best]

    def _citation(self, sentences: list[Candidate]) -> Citation:
        meta = sentences[0].passage.metadata
        start, end = sentences[0].span.start, sentences[-1].span.end
        quote = sentences[0].passage.page_content[start - meta["start"] : end - meta["start"]]
        return Citation(
            corpus=self.store.corpus,
            source=meta["source"],
            title=meta.get("title", ""),
            date=meta.get("date"),
            start=start,
            end=end,
            quote=quote,
            score=round(max(c.score for c in sentences), 6),
        )


def _overlaps(candidate: Candidate, quote: list[Candidate]) -> bool:
    source = candidate.passage.metadata["source"]
    return any(
        c.passage.metadata["source"] == source and candidate.span.start < c.span.end and c.span.start < candidate.span.end
        for c in quote
    )
